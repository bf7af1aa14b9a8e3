import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.export.domain.auth import (
    INVALID_CREDENTIALS,
    INVALID_TOKEN,
    LIVRET_SCOPE,
    SCOPE_NOT_ALLOWED,
    UAI_NOT_ALLOWED,
    AuthError,
    ClientCredentials,
    authenticate_client,
    authorize_uai,
    hash_secret,
    issue_token,
    token_response,
    verify_secret,
    verify_token,
)

KEY = b"k" * 32
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clients():
    osmose = ClientCredentials(
        client_id="osmose",
        secret_hash=hash_secret("s3cret", iterations=1_000),
        scopes=frozenset({LIVRET_SCOPE}),
        uais=frozenset({"0751234A", "0759999Z"}),
    )
    other = ClientCredentials(
        "other", hash_secret("pw", iterations=1_000), frozenset({"something-else"}), frozenset()
    )
    return {c.client_id: c for c in (osmose, other)}


def refused(status, message, call, *args, **kwargs):
    with pytest.raises(AuthError) as caught:
        call(*args, **kwargs)
    assert (caught.value.status, caught.value.message) == (status, message)


def test_secret_hash_round_trip():
    stored = hash_secret("s3cret", iterations=1_000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret ", stored)
    assert not verify_secret("s3cret", "garbage")
    assert not verify_secret("s3cret", "md5$1$aa$bb")


def test_good_credentials_and_scope(clients):
    assert authenticate_client(clients, "osmose", "s3cret", LIVRET_SCOPE).client_id == "osmose"


def test_bad_credentials_are_401(clients):
    refused(401, INVALID_CREDENTIALS, authenticate_client, clients, "osmose", "wrong", LIVRET_SCOPE)
    refused(401, INVALID_CREDENTIALS, authenticate_client, clients, "nobody", "s3cret", LIVRET_SCOPE)
    assert INVALID_CREDENTIALS == "The client ID and/or secret are invalid."


def test_bad_scope_is_403(clients):
    refused(403, SCOPE_NOT_ALLOWED, authenticate_client, clients, "osmose", "s3cret", "admin")
    refused(403, SCOPE_NOT_ALLOWED, authenticate_client, clients, "other", "pw", "something-else")
    refused(403, SCOPE_NOT_ALLOWED, authenticate_client, clients, "other", "pw", LIVRET_SCOPE)
    assert SCOPE_NOT_ALLOWED == "The scope is not allowed."


def test_token_round_trip_carries_client_scope_uais_and_four_hour_expiry(clients):
    token = issue_token(clients["osmose"], LIVRET_SCOPE, key=KEY, now=NOW)
    assert token.count(".") == 2
    claims = verify_token(token, key=KEY, now=NOW + timedelta(hours=3, minutes=59))
    assert claims.client_id == "osmose"
    assert claims.scope == LIVRET_SCOPE
    assert claims.uais == {"0751234A", "0759999Z"}
    assert claims.expires_at - claims.issued_at == timedelta(hours=4)
    assert token_response(clients["osmose"], token) == {
        "token_type": "bearer",
        "access_token": token,
        "client_id": "osmose",
    }


def test_expired_token_is_401(clients):
    token = issue_token(clients["osmose"], LIVRET_SCOPE, key=KEY, now=NOW)
    with pytest.raises(AuthError) as caught:
        verify_token(token, key=KEY, now=NOW + timedelta(hours=4))
    assert caught.value.status == 401


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: ".".join(
            [
                t.split(".")[0],
                _b64({"client_id": "x", "scope": LIVRET_SCOPE, "uais": ["1"], "iat": 0, "exp": 2**40}),
                t.split(".")[2],
            ]
        ),
        lambda t: ".".join([_b64({"alg": "none", "typ": "JWT"}), t.split(".")[1], ""]),
        lambda t: "not-a-token",
        lambda t: t + ".extra",
        lambda t: "é.é.é",
    ],
)
def test_tampered_or_malformed_tokens_are_401(clients, tamper):
    token = issue_token(clients["osmose"], LIVRET_SCOPE, key=KEY, now=NOW)
    with pytest.raises(AuthError) as caught:
        verify_token(tamper(token), key=KEY, now=NOW)
    assert caught.value.status == 401


def test_token_signed_with_another_key_or_for_another_scope_is_401(clients):
    foreign = issue_token(clients["osmose"], LIVRET_SCOPE, key=b"x" * 32, now=NOW)
    other_scope = issue_token(clients["osmose"], "user", key=KEY, now=NOW)
    for token in (foreign, other_scope):
        with pytest.raises(AuthError):
            verify_token(token, key=KEY, now=NOW)


def test_short_signing_key_is_refused(clients):
    with pytest.raises(ValueError):
        issue_token(clients["osmose"], LIVRET_SCOPE, key=b"short", now=NOW)


def test_a_client_sees_only_its_uais(clients):
    claims = verify_token(issue_token(clients["osmose"], LIVRET_SCOPE, key=KEY, now=NOW), key=KEY, now=NOW)
    authorize_uai(claims, "0751234a", clients)
    refused(403, UAI_NOT_ALLOWED, authorize_uai, claims, "0130001B", clients)


def test_a_token_outlives_no_revocation(clients):
    """The configuration changed after the token was issued (a restart within its 4 hours)."""
    claims = verify_token(issue_token(clients["osmose"], LIVRET_SCOPE, key=KEY, now=NOW), key=KEY, now=NOW)
    refused(401, INVALID_TOKEN, authorize_uai, claims, "0751234A", {})
    narrowed = {"osmose": replace(clients["osmose"], uais=frozenset({"0759999Z"}))}
    refused(403, UAI_NOT_ALLOWED, authorize_uai, claims, "0751234A", narrowed)
    authorize_uai(claims, "0759999z", narrowed)
    no_scope = {"osmose": replace(clients["osmose"], scopes=frozenset({"something-else"}))}
    refused(401, INVALID_TOKEN, authorize_uai, claims, "0759999Z", no_scope)


def test_a_secret_proven_right_is_not_hashed_again_a_wrong_one_always_is(clients, monkeypatch):
    from services.export.domain import auth

    hashed = []
    real = auth.verify_secret
    monkeypatch.setattr(auth, "verify_secret", lambda s, h: hashed.append(s) or real(s, h))
    verified = auth.VerifiedSecrets()
    for _ in range(3):
        assert authenticate_client(clients, "osmose", "s3cret", LIVRET_SCOPE, verified).client_id == "osmose"
    assert hashed == ["s3cret"]
    for _ in range(2):
        refused(
            401, INVALID_CREDENTIALS, authenticate_client, clients, "osmose", "wrong", LIVRET_SCOPE, verified
        )
    refused(
        401, INVALID_CREDENTIALS, authenticate_client, clients, "nobody", "s3cret", LIVRET_SCOPE, verified
    )
    assert hashed == ["s3cret", "wrong", "wrong", "s3cret"]


def test_a_proven_secret_counts_only_for_the_hash_configured_now(clients):
    from services.export.domain.auth import VerifiedSecrets

    verified = VerifiedSecrets()
    assert verified.verify(clients["osmose"], "s3cret")
    rotated = replace(clients["osmose"], secret_hash=hash_secret("n3w", iterations=1_000))
    assert not verified.verify(rotated, "s3cret")  # the old secret no longer opens the client
    assert verified.verify(rotated, "n3w")
    refused(401, INVALID_CREDENTIALS, authenticate_client, {}, "osmose", "s3cret", LIVRET_SCOPE, verified)
