"""The console refuses to start without a provider, or in production with the development key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.console.app import fr_date, session_status
from services.console.settings import ConsoleSettings

ISSUER = "https://auth.example.invalid/realms/academie"


def test_the_provider_is_required():
    with pytest.raises(ValidationError, match="OIDC_ISSUER is required"):
        ConsoleSettings(oidc_issuer=None)


def test_production_refuses_the_development_session_secret():
    with pytest.raises(ValidationError, match="CONSOLE_SESSION_SECRET"):
        ConsoleSettings(oidc_issuer=ISSUER, environment="production")
    ConsoleSettings(oidc_issuer=ISSUER, environment="production", console_session_secret="x" * 40)


def test_a_short_session_secret_is_refused():
    with pytest.raises(ValidationError):
        ConsoleSettings(oidc_issuer=ISSUER, console_session_secret="short")


def test_dates_and_statuses_in_french():
    assert fr_date("2025-11-13") == "13/11/2025" and fr_date(None) == ""
    assert session_status({"status": "cancelled"}) == "Annulée"
    assert session_status({"status": "scheduled", "finalised_at": "2025-11-14T10:00:00Z"}) == "Finalisée"
    assert session_status({"status": "scheduled", "started": True}) == "Démarrée"
    assert session_status({"status": "scheduled"}) == "Créée"
