"""ENVIRONMENT=production: a service refuses to start on a development secret, naming each one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.export.app import definition as export
from services.finalisation.app import definition as finalisation
from services.scheduler.app import definition as scheduler

REAL_DB = "postgresql://certibus_finalisation:Vq8-real-Password-2x@db.academie.example:5432/certibus"
REAL_KEY = "x7Rk2pLq9wZt4vNb8mYc3hJd6sFg1aQe"


def refusal(settings_class, **values) -> str:
    with pytest.raises(ValidationError) as refused:
        settings_class(environment="production", **values)
    return str(refused.value)


def test_finalisation_with_its_development_defaults_names_every_offending_variable(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    message = refusal(finalisation.settings_class)
    for variable in ("INVIGILATOR_TOKEN_SECRET", "INVIGILATOR_PASSWORD_KEY", "DATABASE_URL", "OIDC_ISSUER"):
        assert variable in message
    assert "certibus_admin" not in message  # the refusal does not echo the secrets


def test_a_change_me_placeholder_and_a_compose_password_are_refused():
    message = refusal(
        scheduler.settings_class,
        database_url="postgresql://certibus_scheduler:scheduler-pw@postgres:5432/certibus",
        invigilator_password_key="change-me-invigilator-password-key-32-chars",
        api_token="change-me-school-api-token",
    )
    assert "DATABASE_URL" in message and "INVIGILATOR_PASSWORD_KEY" in message and "API_TOKEN" in message


def test_a_change_me_database_or_kafka_password_is_refused():
    message = refusal(
        finalisation.settings_class,
        database_url="postgresql://certibus_finalisation:change-me-finalisation-db@db:5432/certibus",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="certibus-finalisation",
        kafka_sasl_password="change-me-kafka",
    )
    assert "DATABASE_URL" in message and "KAFKA_SASL_PASSWORD" in message


def test_real_secrets_start_in_production():
    settings = finalisation.settings_class(
        environment="production",
        database_url=REAL_DB,
        invigilator_token_secret="a-long-random-token-secret-of-the-academie",
        invigilator_password_key=REAL_KEY,
        oidc_issuer="https://sso.academie.example/realms/certibus",
    )
    assert settings.environment == "production"


def test_development_is_the_default_and_keeps_the_local_values():
    assert finalisation.settings_class().environment == "development"
    assert export.settings_class().environment == "development"


def test_an_unknown_environment_is_refused():
    with pytest.raises(ValidationError):
        finalisation.settings_class(environment="prod")
