"""Password checks against stored Argon2 hashes."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from qbwc_spyne.auth import PasswordCheck, hash_password
from qbwc_spyne.exceptions import ConfigurationError


@pytest.fixture(scope="module")
def check() -> PasswordCheck:
    return PasswordCheck({"shop": hash_password("correct horse")})


def test_right_password_is_accepted(check):
    """The stored user with its password verifies."""
    assert check.verify("shop", "correct horse")


@pytest.mark.parametrize(
    ("user", "password"), [("shop", "wrong"), ("shop", ""), ("nobody", "correct horse")]
)
def test_wrong_password_or_unknown_user_is_refused(check, user, password):
    """A wrong password and an unknown user are both refused, without raising."""
    assert not check.verify(user, password)


def test_hashes_are_salted_argon2id():
    """Two hashes of one password differ, and neither contains it."""
    first, second = hash_password("pw-123"), hash_password("pw-123")
    assert first != second and first.startswith("$argon2id$") and "pw-123" not in first


def test_plain_text_is_refused_as_a_hash():
    """A password stored in clear is a configuration error, not a silent match."""
    with pytest.raises(ConfigurationError, match="shop"):
        PasswordCheck({"shop": "correct horse"})


def test_from_file_reads_user_hash_lines(tmp_path):
    """user:hash lines, comments and blank lines; a malformed line names its number."""
    path = tmp_path / "passwords"
    path.write_text(f"# users\n\nshop:{hash_password('pw')}\n")
    assert PasswordCheck.from_file(path).verify("shop", "pw")
    path.write_text("just-a-line\n")
    with pytest.raises(ConfigurationError, match=":1:"):
        PasswordCheck.from_file(path)


def cheap(time_cost: int, memory_cost: int, parallelism: int = 1) -> PasswordHasher:
    """A hasher with small parameters, so that tests stay fast."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


class TestDecoyCost:
    def test_decoy_has_the_costliest_stored_parameters(self):
        """An unknown user is checked against a hash as dear as the dearest stored one."""
        hashes = {
            "a": cheap(1, 64).hash("pw-a"),
            "b": cheap(2, 256).hash("pw-b"),
            "c": cheap(1, 128, 2).hash("pw-c"),
        }
        check = PasswordCheck(hashes)
        assert check.decoy_parameters == extract_parameters(hashes["b"])
        assert check.decoy_parameters != extract_parameters(hash_password("x"))
        assert not check.verify("nobody", "pw-b")

    @pytest.mark.parametrize(
        ("user", "password", "checked"),
        [
            ("nobody", "pw-a", ["decoy"]),  # an unknown name: the decoy alone
            ("b", "pw-b", ["b"]),  # the dearest hash: its own check is as dear
            ("a", "pw-a", ["a", "decoy"]),  # a cheaper hash: made up with the decoy
            ("a", "wrong", ["a", "decoy"]),
        ],
    )
    def test_no_user_is_checked_with_less_work_than_an_unknown_name(self, user, password, checked):
        """A cheaper stored hash is followed by the decoy's check: no name answers sooner."""
        hashes = {"a": cheap(1, 64).hash("pw-a"), "b": cheap(2, 256).hash("pw-b")}

        seen: list[str] = []

        class Recording(PasswordHasher):
            def verify(self, hash, password):
                owner = next((u for u, h in hashes.items() if h == hash), "decoy")
                seen.append(owner)
                return super().verify(hash, password)

        check = PasswordCheck(hashes, hasher=Recording())
        seen.clear()
        assert check.verify(user, password) is (password == f"pw-{user}")
        assert seen == checked

    def test_an_upgrade_remakes_the_decoy_from_the_hashes_left(self):
        """Once the dearest hash is upgraded to today's parameters, the decoy follows."""
        hashes = {"old": cheap(3, 512).hash("pw")}
        check = PasswordCheck(hashes)
        assert check.decoy_parameters == extract_parameters(hashes["old"])
        assert check.upgrade("old", "pw") is not None
        assert check.decoy_parameters == extract_parameters(hash_password("x"))

    def test_fewer_lanes_cost_more_for_the_same_work(self):
        """With equal time and memory, the hash with fewer parallel lanes is the decoy."""
        hashes = {"a": cheap(2, 128, 4).hash("pw"), "b": cheap(2, 128, 1).hash("pw")}
        assert PasswordCheck(hashes).decoy_parameters.parallelism == 1

    def test_without_stored_hashes_the_decoy_has_the_hashers_parameters(self):
        """No user at all: the decoy uses the parameters new hashes would get."""
        hasher = cheap(1, 32)
        check = PasswordCheck({}, hasher=hasher)
        assert check.decoy_parameters == extract_parameters(hasher.hash("x"))

    def test_a_malformed_argon2_hash_is_a_configuration_error(self):
        """A value that starts like Argon2 but cannot be read is refused at start-up."""
        with pytest.raises(ConfigurationError, match="shop"):
            PasswordCheck({"shop": "$argon2id$v=19$garbage"})


class TestRehash:
    def test_old_parameters_need_a_rehash_and_upgrade_on_login(self):
        """A hash with other parameters is replaced on a right password, and then is current."""
        today = cheap(1, 64)
        check = PasswordCheck({"shop": cheap(1, 32).hash("pw")}, hasher=today)
        assert check.needs_rehash("shop")
        assert check.upgrade("shop", "wrong") is None
        new = check.upgrade("shop", "pw")
        assert new is not None and extract_parameters(new) == extract_parameters(today.hash("x"))
        assert not check.needs_rehash("shop") and check.verify("shop", "pw")
        assert check.upgrade("shop", "pw") is None

    def test_current_hashes_and_unknown_users_need_nothing(self):
        """needs_rehash is False for a hash made today and for a user not stored."""
        today = cheap(1, 64)
        check = PasswordCheck({"shop": today.hash("pw")}, hasher=today)
        assert not check.needs_rehash("shop") and not check.needs_rehash("nobody")
        assert check.upgrade("nobody", "pw") is None
