"""Password checks against stored Argon2 hashes."""

from __future__ import annotations

import pytest

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
