"""QWC files: every property written, read back, and validated as the Web Connector would."""

from __future__ import annotations

import dataclasses
import os
import stat
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne.exceptions import QWCFileExistsError
from qbwc_spyne.qwc import QWCError, QWCFile, parse_auth_flags, stable_file_id, stable_owner_id


def valid(**changes) -> QWCFile:
    values: dict[str, Any] = {
        "app_name": "Shop & Sync",
        "app_url": "https://shop.example.com/qbwc",
        "app_support_url": "https://shop.example.com/help",
        "app_description": "Sends <orders> to QuickBooks",
        "user": "shop",
        "owner_id": "{6B063959-81B0-4622-85D6-F548C8CCB517}",
        "file_id": "{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}",
    }
    values.update(changes)
    return QWCFile(**values)


FULL = {
    "app_id": "APP-1",
    "app_display_name": "Shop",
    "app_unique_name": "shop-sync",
    "auth_flags": 0xA,
    "cert_url": "https://shop.example.com/cert",
    "is_read_only": True,
    "notify": True,
    "personal_data_pref": 2,
    "unattended_mode_pref": 1,
    "update_interval": 900,
    "qb_type": "QBPOS",
    "style": "DocWrapped",
}


class TestWriting:
    def test_every_property_survives_a_round_trip(self):
        """to_xml then parse gives the same QWCFile, every property set."""
        qwc = valid(**FULL)
        assert QWCFile.parse(qwc.to_xml()) == qwc

    def test_defaults_survive_a_round_trip(self):
        """A minimal file reads back equal, defaults included."""
        assert QWCFile.parse(valid().to_xml()) == valid()

    def test_element_names_and_words_are_the_web_connectors(self):
        """QBWCXML with the Web Connector's element names, words and hex AuthFlags."""
        root = etree.fromstring(valid(**FULL).to_xml().encode())
        assert root.tag == "QBWCXML"
        assert root.findtext("AppSupport") == "https://shop.example.com/help"
        assert root.findtext("UserName") == "shop"
        assert root.findtext("PersonalDataPref") == "pdpRequired"
        assert root.findtext("UnattendedModePref") == "umpRequired"
        assert root.findtext("AuthFlags") == "0xA"
        assert root.findtext("IsReadOnly") == "true"
        assert root.findtext("Scheduler/RunEveryNMinutes") == "15"
        assert root.findtext("AppDescription") == "Sends <orders> to QuickBooks"

    @pytest.mark.parametrize(
        ("seconds", "minutes"), [(60, "1"), (89, "1"), (90, "2"), (3600, "60")]
    )
    def test_interval_is_written_as_the_nearest_whole_minute(self, seconds, minutes):
        """update_interval of a minute or more becomes RunEveryNMinutes."""
        root = etree.fromstring(valid(update_interval=seconds).to_xml().encode())
        assert root.findtext("Scheduler/RunEveryNMinutes") == minutes

    @pytest.mark.parametrize("seconds", [1, 20, 30, 59])
    def test_an_interval_under_a_minute_is_written_in_seconds(self, seconds):
        """Under a minute: RunEveryNSeconds, exact (live requests wait for the schedule)."""
        text = valid(update_interval=seconds).to_xml()
        root = etree.fromstring(text.encode())
        assert root.findtext("Scheduler/RunEveryNSeconds") == str(seconds)
        assert root.find("Scheduler/RunEveryNMinutes") is None
        assert QWCFile.parse(text).update_interval == seconds

    def test_no_scheduler_without_an_interval(self):
        """update_interval 0 leaves the Scheduler out."""
        assert "Scheduler" not in valid().to_xml()

    def test_write_refuses_to_overwrite_unless_asked(self, tmp_path):
        """An existing file is an error unless overwrite=True, as in the reference."""
        path = tmp_path / "shop.qwc"
        valid().write(path)
        with pytest.raises(QWCFileExistsError) as error:
            valid(user="other").write(path)
        assert isinstance(error.value, FileExistsError) and error.value.errno == 17
        assert error.value.field == "file" and str(path) in str(error.value)
        assert QWCFile.parse(path).user == "shop"
        valid(user="other").write(path, overwrite=True)
        assert QWCFile.parse(path).user == "other"

    def test_written_file_uses_windows_line_ends(self, tmp_path):
        """The file is for a Windows program: CRLF line ends."""
        path = valid().write(tmp_path / "x.qwc")
        assert b"\r\n" in path.read_bytes() and b"\n<" not in path.read_bytes().replace(
            b"\r\n", b""
        )

    def test_an_invalid_file_writes_nothing(self, tmp_path):
        """Validation comes before the file is opened: no empty or partial file is left."""
        path = tmp_path / "shop.qwc"
        with pytest.raises(QWCError):
            valid(owner_id="x").write(path)
        assert not path.exists()
        valid().write(path)
        before = path.read_bytes()
        with pytest.raises(QWCError):
            valid(owner_id="x").write(path, overwrite=True)
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["shop.qwc"]

    def test_overwrite_replaces_the_file_whole(self, tmp_path):
        """overwrite renames a complete file over the old one: the old inode is untouched."""
        path = tmp_path / "shop.qwc"
        valid().write(path)
        with open(path, "rb") as old:  # a reader holding the old file
            valid(user="other").write(path, overwrite=True)
            assert QWCFile.parse(old.read()).user == "shop"
        assert QWCFile.parse(path).user == "other"
        assert [p.name for p in tmp_path.iterdir()] == ["shop.qwc"]

    def test_overwrite_gives_the_file_the_mode_a_new_file_gets(self, tmp_path):
        """Replacing a file leaves it as readable as a fresh one (umask 022: 0644, not 0600)."""
        previous = os.umask(0o022)
        try:
            valid().write(tmp_path / "fresh.qwc")
            valid().write(tmp_path / "replaced.qwc", overwrite=True)
            valid().write(tmp_path / "replaced.qwc", overwrite=True)
        finally:
            os.umask(previous)
        modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        assert modes == {0o644}

    def test_a_failed_overwrite_leaves_no_temporary_file(self, tmp_path):
        """The rename fails (a directory is in the way): the error rises, nothing is left behind."""
        path = tmp_path / "shop.qwc"
        path.mkdir()
        with pytest.raises(OSError):
            valid().write(path, overwrite=True)
        assert [p.name for p in tmp_path.iterdir()] == ["shop.qwc"] and path.is_dir()

    def test_racing_writers_without_overwrite_leave_one_whole_file(self, tmp_path):
        """Eight threads create the same file at once: one wins, seven are refused."""
        path = tmp_path / "shop.qwc"
        start = threading.Barrier(8)
        outcomes: dict[str, str] = {}

        def write(user: str) -> None:
            start.wait()
            try:
                valid(user=user).write(path)
                outcomes[user] = "written"
            except QWCFileExistsError:
                outcomes[user] = "refused"

        threads = [threading.Thread(target=write, args=(f"user{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [user for user, outcome in outcomes.items() if outcome == "written"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert QWCFile.parse(path) == valid(user=winners[0])

    def test_parse_reads_run_every_n_seconds(self):
        """Files written by others may schedule in seconds."""
        text = (
            valid()
            .to_xml()
            .replace(
                "<Style>", "<Scheduler><RunEveryNSeconds>45</RunEveryNSeconds></Scheduler><Style>"
            )
        )
        assert QWCFile.parse(text).update_interval == 45


class TestValidation:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"app_name": ""}, "app_name"),
            ({"app_url": ""}, "app_url"),
            ({"app_support_url": ""}, "app_support_url"),
            ({"app_description": " "}, "app_description"),
            ({"user": ""}, "user"),
            ({"owner_id": "6B063959-81B0-4622-85D6-F548C8CCB517"}, "owner_id"),
            ({"file_id": "{not-a-guid}"}, "file_id"),
            ({"app_url": "http://shop.example.com/qbwc"}, "app_url"),
            ({"app_url": "ftp://shop.example.com/"}, "app_url"),
            (
                {"app_url": "http://devbox:8000/", "app_support_url": "http://devbox:8000/"},
                "app_url",
            ),
            ({"app_support_url": "https://help.other.com/"}, "app_support_url"),
            ({"auth_flags": 0x10}, "auth_flags"),
            ({"auth_flags": -1}, "auth_flags"),
            ({"auth_flags": "0x10"}, "auth_flags"),
            ({"auth_flags": "lots"}, "auth_flags"),
            ({"auth_flags": "0b11"}, "auth_flags"),
            ({"auth_flags": True}, "auth_flags"),
            ({"personal_data_pref": 3}, "personal_data_pref"),
            ({"unattended_mode_pref": 2}, "unattended_mode_pref"),
            ({"update_interval": -60}, "update_interval"),
            ({"qb_type": "QBOE"}, "qb_type"),
            ({"style": "Wrapped"}, "style"),
            ({"cert_url": "http://shop.example.com/cert"}, "cert_url"),
        ],
    )
    def test_each_error_names_its_field(self, changes, field):
        """Every refusal says which property is wrong."""
        with pytest.raises(QWCError) as error:
            valid(**changes).validate()
        assert error.value.field == field
        assert str(error.value).startswith(field)

    @pytest.mark.parametrize(
        "changes",
        [
            {
                "app_url": "http://localhost:8000/qbwc",
                "app_support_url": "http://localhost:8000/help",
            },
            {"app_url": "https://devbox/qbwc", "app_support_url": "https://devbox/help"},
            {"app_support_url": "https://SHOP.example.com/support"},
            {"auth_flags": 0x1},
            {"auth_flags": 0xF},
            {"auth_flags": "0x2"},
            {"auth_flags": "0xf"},
            {"auth_flags": "12"},
            {"auth_flags": ""},
        ],
    )
    def test_what_the_web_connector_accepts_passes(self, changes):
        """http on localhost, a machine name over https, host case, all AuthFlags combinations."""
        valid(**changes).validate()

    @pytest.mark.parametrize(("text", "number"), [("0x2", 2), ("0XA", 10), (" 0xF ", 15), ("5", 5)])
    def test_auth_flags_as_text_is_the_number(self, text, number):
        """QWCFile(auth_flags="0x2") equals the int form and writes the same AuthFlags."""
        assert valid(auth_flags=text) == valid(auth_flags=number)
        root = etree.fromstring(valid(auth_flags=text).to_xml().encode())
        assert root.findtext("AuthFlags") == f"0x{number:X}"

    def test_every_auth_flags_value_is_accepted_exactly_in_range(self):
        """parse_auth_flags takes 0x0..0xF (0: every edition) and refuses 0x10.., int or text."""
        for number in range(0, 0x40):
            for value in (number, f"0x{number:X}", str(number)):
                if number == 0:
                    assert parse_auth_flags(value) is None
                elif number <= 0xF:
                    assert parse_auth_flags(value) == number
                else:
                    with pytest.raises(QWCError):
                        parse_auth_flags(value)

    def test_auth_flags_0x0_read_from_a_file_means_every_edition(self):
        """Other tools write 0x0 ("All"): it reads back as no AuthFlags, which validates."""
        text = valid().to_xml().replace("<Style>", "<AuthFlags>0x0</AuthFlags><Style>")
        qwc = QWCFile.parse(text)
        assert qwc.auth_flags is None
        qwc.validate()

    @pytest.mark.parametrize(
        "field", ["app_name", "app_id", "app_description", "user", "app_display_name"]
    )
    @pytest.mark.parametrize("char", ["\x00", "\x1b", "\ud800", "\ufffe"])
    def test_a_character_xml_cannot_carry_is_refused_naming_the_field(self, tmp_path, field, char):
        """A NUL, an ESC, a lone surrogate, U+FFFE: a QWCError, not lxml's ValueError; no file."""
        path = tmp_path / "shop.qwc"
        with pytest.raises(QWCError) as error:
            valid(**{field: f"Shop{char}"}).write(path)
        assert error.value.field == field
        assert not path.exists()

    def test_to_xml_validates_first(self):
        """No invalid file is ever written."""
        with pytest.raises(QWCError):
            valid(owner_id="x").to_xml()

    @pytest.mark.parametrize(
        ("text", "field"),
        [
            ("<QBWCXML><AppName>x", "file"),
            ("<Other/>", "file"),
            (
                "<QBWCXML><PersonalDataPref>pdpSometimes</PersonalDataPref></QBWCXML>",
                "personal_data_pref",
            ),
            ("<QBWCXML><AuthFlags>lots</AuthFlags></QBWCXML>", "file"),
            (
                '<!DOCTYPE QBWCXML [<!ENTITY a "b">]><QBWCXML><AppName>&a;</AppName></QBWCXML>',
                "file",
            ),
        ],
    )
    def test_unreadable_files_are_refused_clearly(self, text, field):
        """Malformed XML, another root, unknown words, a DOCTYPE: a QWCError naming the cause."""
        with pytest.raises(QWCError) as error:
            QWCFile.parse(text)
        assert error.value.field == field

    def test_a_doctype_is_named_as_the_cause_not_the_root(self):
        """A file whose root is <QBWCXML> is not told its root must be <QBWCXML>."""
        text = '<!DOCTYPE QBWCXML [<!ENTITY a "b">]><QBWCXML><AppName>&a;</AppName></QBWCXML>'
        with pytest.raises(QWCError, match="DOCTYPE") as error:
            QWCFile.parse(text)
        assert "root" not in str(error.value)


class TestStableIds:
    def test_ids_are_stable_and_distinct(self):
        """The same app and user give the same IDs; another app or user another."""
        assert stable_owner_id("Shop") == stable_owner_id("Shop") != stable_owner_id("Other")
        assert (
            stable_file_id("Shop", "a")
            == stable_file_id("Shop", "a")
            != stable_file_id("Shop", "b")
        )
        valid(owner_id=stable_owner_id("Shop"), file_id=stable_file_id("Shop", "a")).validate()

    def test_from_mapping_derives_missing_ids(self):
        """A TOML-style table without IDs gets the stable ones; unknown keys are refused."""
        qwc = QWCFile.from_mapping(
            {
                "app_name": "Shop",
                "user": "a",
                "app_url": "https://s.example.com/q",
                "app_support_url": "https://s.example.com/",
                "app_description": "d",
                "auth_flags": "0xF",
            }
        )
        assert qwc.owner_id == stable_owner_id("Shop") and qwc.auth_flags == 0xF
        with pytest.raises(QWCError) as error:
            QWCFile.from_mapping({"app_name": "Shop", "user": "a", "colour": "red"})
        assert error.value.field == "colour"


class TestProblems:
    def test_problems_lists_every_property_at_fault_once(self):
        """Every fault at once, one per property, in validate's order; validate raises the first."""
        qwc = QWCFile.from_mapping(
            {"app_url": "http://shop.example.com/", "personal_data_pref": 7, "qb_type": "X"}
        )
        fields = [problem.field for problem in qwc.problems()]
        assert fields == [
            "app_name",
            "app_support_url",
            "app_description",
            "user",
            "app_url",
            "personal_data_pref",
            "qb_type",
        ]
        with pytest.raises(QWCError) as caught:
            qwc.validate()
        assert caught.value.field == "app_name"

    def test_a_valid_file_has_no_problems(self):
        assert valid().problems() == []

    @pytest.mark.parametrize("flag", ["is_read_only", "notify"])
    @pytest.mark.parametrize("value", ["false", "no", 0, 1])
    def test_a_flag_given_other_than_true_or_false_is_a_problem_not_written_true(self, flag, value):
        """A TOML file's is_read_only = "false" is refused, not written as IsReadOnly true."""
        qwc = valid(**{flag: value})
        assert [problem.field for problem in qwc.problems()] == [flag]
        with pytest.raises(QWCError, match="must be true or false"):
            qwc.to_xml()

    @pytest.mark.parametrize(
        "url", ["https://[::1/qbwc", "https://shop.example.com:99999/qbwc", "https://h:port/"]
    )
    @pytest.mark.parametrize("field", ["app_url", "app_support_url", "cert_url"])
    def test_a_url_no_parser_can_split_is_a_problem_of_its_property(self, field, url):
        """An open bracket or a port out of range: the URL's property at fault, not ValueError."""
        fields = [problem.field for problem in valid(**{field: url}).problems()]
        assert fields == [field]

    @given(
        st.dictionaries(
            st.sampled_from([f.name for f in dataclasses.fields(QWCFile)]),
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(max_size=30)
            | st.lists(st.integers()),
        )
    )
    @settings(max_examples=300, deadline=None)
    def test_any_toml_like_values_give_problems_never_another_exception(self, values):
        """Whatever types a TOML file holds, problems() lists them, to_xml raises only QWCError."""
        try:
            qwc = QWCFile.from_mapping(values)
        except QWCError:
            return
        problems = qwc.problems()
        if problems:
            with pytest.raises(QWCError):
                qwc.to_xml()
        else:
            QWCFile.parse(qwc.to_xml()).validate()
