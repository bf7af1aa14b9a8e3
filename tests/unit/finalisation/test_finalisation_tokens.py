"""Invigilator tokens: bound to one session, signed, short-lived."""

from datetime import UTC, datetime, timedelta

import pytest

from services.finalisation.domain.tokens import TokenError, issue_token, read_token

SECRET = "a-secret-of-at-least-16-chars"
NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def test_a_token_names_its_session_until_it_expires():
    token, expires_at = issue_token(SECRET, "session-1", NOW, timedelta(minutes=240))
    assert expires_at == NOW + timedelta(minutes=240)
    assert read_token(SECRET, token, NOW + timedelta(minutes=239)).session_id == "session-1"
    with pytest.raises(TokenError) as expired:
        read_token(SECRET, token, expires_at)
    assert expired.value.code == "auth.token_expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(
            t.split(".")[0], issue_token(SECRET, "session-2", NOW, timedelta(days=9))[0].split(".")[0]
        ),
        lambda t: t + "x",
        lambda t: "garbage",
        lambda t: t.split(".")[0] + ".",
    ],
)
def test_a_tampered_token_is_refused(tamper):
    token, _ = issue_token(SECRET, "session-1", NOW, timedelta(minutes=5))
    with pytest.raises(TokenError) as refused:
        read_token(SECRET, tamper(token), NOW)
    assert refused.value.code == "auth.invalid_token"


def test_another_secret_does_not_verify():
    token, _ = issue_token(SECRET, "session-1", NOW, timedelta(minutes=5))
    with pytest.raises(TokenError):
        read_token("another-secret-of-16-chars", token, NOW)
