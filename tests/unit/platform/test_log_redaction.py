"""No student data in logs at INFO and above: by key name and by value pattern."""

from __future__ import annotations

from shared.logging import REDACTED, redact_personal_data


def redact(method: str = "info", **event) -> dict:
    return redact_personal_data(None, method, {"event": "x", **event})


def test_personal_keys_lose_their_value_whatever_their_spelling():
    line = redact(
        first_name="Léa", lastName="Martin", INE="123456789AB", Birthdate="2012-01-03", email="a@b.fr"
    )
    assert {k: line[k] for k in ("first_name", "lastName", "INE", "Birthdate", "email")} == dict.fromkeys(
        ("first_name", "lastName", "INE", "Birthdate", "email"), REDACTED
    )


def test_ine_and_email_are_masked_in_any_value_and_nested():
    line = redact(
        event="learner 1234567890A refused", row={"id": "098765432CD", "contact": "lea.martin@ac-paris.fr"}
    )
    assert line["event"] == "learner [ine] refused"
    assert line["row"] == {"id": "[ine]", "contact": "[email]"}


def test_iso_dates_are_masked_next_to_a_name_only():
    assert redact(name="Léa", detail="born 2012-01-03")["detail"] == "born [date]"
    assert redact(session_date="2027-03-10")["session_date"] == "2027-03-10"


def test_things_that_only_look_alike_stay():
    line = redact(session_number=12345678901, uai="0750001A", count="1234567890")
    assert (
        line["session_number"] == 12345678901 and line["uai"] == "0750001A" and line["count"] == "1234567890"
    )


def test_debug_lines_are_left_alone():
    assert redact("debug", first_name="Léa")["first_name"] == "Léa"


def test_warning_and_error_are_redacted_too():
    assert redact("error", ine="123456789AB")["ine"] == REDACTED
    assert redact("warning", event="INE 123456789AB")["event"] == "INE [ine]"
