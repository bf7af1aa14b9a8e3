"""Settings read from environment variables (pydantic-settings), shared by every service.

A service composes its own settings class by inheriting from ``ServiceSettings`` and adding its
fields; every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _fits_a_header(token: SecretStr) -> SecretStr:
    if not re.fullmatch(r"[\x21-\x7e]+", token.get_secret_value()):
        raise ValueError("an API token is printable ASCII without spaces (it travels in a header)")
    return token


#: a Bearer token callers send in ``Authorization``: at least 16 characters, visible ASCII
ApiToken = Annotated[SecretStr, Field(min_length=16), AfterValidator(_fits_a_header)]


#: the development value of INVIGILATOR_PASSWORD_KEY (local runs and tests; refused in production)
DEV_INVIGILATOR_PASSWORD_KEY = "certibus-dev-invigilator-password-key"


class InvigilatorPasswordSettings(BaseSettings):
    """The key of invigilator password verifiers: the scheduler makes them, finalisation checks them."""

    model_config = SettingsConfigDict(extra="ignore")

    invigilator_password_key: Annotated[SecretStr, Field(min_length=32)] = Field(
        default=SecretStr(DEV_INVIGILATOR_PASSWORD_KEY),
        description="HMAC key of the invigilator password verifiers SessionCreated carries (≥ 32"
        " characters); the same value in scheduler and finalisation, nowhere else",
    )


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:19092", description="host:port[,host:port]")
    topic_partitions: int = Field(default=6, ge=1, description="partitions of each event topic at creation")
    topic_retention_days: int = Field(default=400, ge=1, description="retention of event topics")
    topic_replication_factor: int = Field(default=1, ge=1)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="PLAINTEXT on loopback only; SSL (TLS) or SASL_SSL (TLS + SCRAM) anywhere else",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512", description="SCRAM flavour of the brokers' SASL_SSL listener"
    )
    kafka_sasl_username: str | None = Field(default=None, description="the service's Kafka user")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="its password")
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the brokers' certificates (unset: the system's CAs);"
        " the broker's name is always checked against its certificate",
    )
    kafka_metadata_max_age_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="how often every Kafka client refreshes its view of partition leaders: aiokafka"
        " retries an offset lookup on a broker that lost a partition's leadership without asking"
        " for fresh metadata, so after a failover the partition waits for this refresh (aiokafka's"
        " 300,000 ms default left a partition unconsumed for up to 5 minutes)",
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.kafka_security_protocol == "SASL_SSL" and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ssl_cafile is not None and not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"KAFKA_SSL_CAFILE {self.kafka_ssl_cafile}: no such file")
        return self

    def kafka_servers(self) -> list[str]:
        """The bootstrap addresses one by one: FastStream hands its argument to aiokafka as a list,
        in which ``"a:9092,b:9092"`` would be taken for a single host (aiokafka splits only a str)."""
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(
        default="postgresql://certibus_admin:certibus_admin@127.0.0.1:15432/certibus",
        description="the service's own role; its schema is the role's name without 'certibus_'",
    )
    database_schema: str | None = Field(
        default=None,
        description="schema of the service; defaults to the service name (tests use scratch ones)",
    )
    database_pool_max: int = Field(default=10, ge=2)


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    retry_max_attempts: int = Field(default=5, ge=1, description="handler attempts before dead-lettering")
    retry_backoff_ms: int = Field(default=200, ge=0, description="first retry delay, doubled each attempt")
    retry_backoff_max_ms: int = Field(default=5000, ge=0)
    consumer_commit_every: int = Field(
        default=100, ge=1, description="commit consumer offsets after this many handled records…"
    )
    consumer_commit_interval_ms: int = Field(default=200, ge=10, description="…or this often")
    consumer_batch_max_records: int = Field(
        default=500,
        ge=1,
        description="records a consumer takes from Kafka at once; each partition's run of them is"
        " applied in one transaction",
    )
    consumer_batch_timeout_ms: int = Field(
        default=50, ge=1, description="how long a consumer waits for records when none are buffered"
    )
    consumer_partition_concurrency: int = Field(
        default=4,
        ge=1,
        description="partitions of a batch applied at once, each on its own connection, by the"
        " consumers whose handlers are declared independent across partitions",
    )
    consumer_group_prefix: str = Field(
        default="certibus", description="consumer groups are <prefix>.<service>.<consumer>"
    )
    outbox_batch_size: int = Field(default=500, ge=1)
    outbox_poll_seconds: float = Field(
        default=2.0, gt=0, description="relay poll interval when no NOTIFY arrives"
    )
    outbox_retention_hours: float = Field(
        default=168,
        gt=0,
        description="published outbox rows are deleted after this long (Kafka keeps the events)",
    )


class OidcSettings(BaseSettings):
    """The académie's OpenID Connect provider whose access tokens open the school API (shared.auth)."""

    model_config = SettingsConfigDict(extra="ignore")

    oidc_issuer: str | None = Field(
        default=None,
        description="issuer URL of the provider (discovery at <issuer>/.well-known/openid-configuration);"
        " unset: no OIDC sign-in",
    )
    oidc_audience: str = Field(default="certibus", description="the aud every access token must carry")
    oidc_uai_claim: str = Field(default="uai", description="claim listing the staff member's UAIs")
    oidc_roles_claim: str = Field(
        default="realm_access.roles", description="dotted path of the claim listing the roles"
    )
    oidc_clock_skew_seconds: int = Field(default=60, ge=0, le=300, description="leeway on exp/nbf")
    oidc_jwks_refresh_min_seconds: float = Field(
        default=30, ge=0, description="least interval between two key fetches (unknown kid)"
    )


class ServiceSettings(KafkaSettings, DatabaseSettings, DeliverySettings, OidcSettings):
    """Everything a certibus service needs to run; services subclass it."""

    # a refused value is not echoed: secrets (API_TOKEN, passwords in DATABASE_URL) would reach the logs
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    http_host: str = Field(default="127.0.0.1")
    http_port: int = Field(default=8000)
    #: longer than the idle timeout of whatever sits in front (a gateway keeps connections ≈ 60 s):
    #: a server closing first races the next request sent on the same connection (reset, not answered)
    http_keepalive_seconds: int = Field(default=75, gt=0)
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="json", pattern="^(json|console)$")
    rebuild_read_models: bool = Field(
        default=False,
        description="replay mode: clear derived tables and inbox, re-consume input topics from the start",
    )
    rebuild_since: AwareDatetime | None = Field(
        default=None,
        description="with REBUILD_READ_MODELS: re-consume from the first record at or after this instant"
        " (ISO 8601 with a zone) instead of the start",
    )
    api_token: ApiToken | None = Field(
        default=None,
        description="Bearer token of a trusted gateway (passes every school route); with no OIDC_ISSUER either, the API is open",
    )

    environment: str = Field(
        default="development",
        pattern="^(development|production)$",
        description="production: refuse to start while a secret keeps a development value",
    )

    def api_tokens(self) -> list[SecretStr]:
        """The tokens the school API accepts as ``Authorization: Bearer …``; none: the API is open."""
        return [self.api_token] if self.api_token is not None else []

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> Self:
        if self.environment == "production" and (offending := development_secrets(self)):
            raise ValueError(
                "ENVIRONMENT=production refuses development values; set: " + ", ".join(offending)
            )
        return self


class OperatorSettings(KafkaSettings, DatabaseSettings, DeliverySettings):
    """What the operators' command (``certibus``, shared/cli/) reads: the services' own variables plus
    where each service's HTTP API answers (``certibus health`` asks their ``/ready``)."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    scheduler_url: str = Field(default="http://127.0.0.1:8001", description="the scheduler's HTTP API")
    eligibility_url: str = Field(default="http://127.0.0.1:8002", description="the eligibility HTTP API")
    finalisation_url: str = Field(default="http://127.0.0.1:8003", description="the finalisation HTTP API")
    export_url: str = Field(default="http://127.0.0.1:8004", description="the export HTTP API")
    academie_url: str = Field(default="http://127.0.0.1:8005", description="the académie view's HTTP API")
    health_timeout_seconds: float = Field(default=3.0, gt=0, description="how long a /ready may take")

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")


#: suffixes of the settings that hold a secret (a key, a signing secret, a token, a password)
SECRET_SUFFIXES = ("_secret", "_key", "_token", "_password")
#: database passwords of the local stack, docker-compose and the tests (``<service>-pw``…)
LOCAL_DATABASE_PASSWORDS = re.compile(r"^(certibus_admin|scratch-pw|[a-z]+-pw)$")


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def development_secrets(settings: BaseSettings) -> list[str]:
    """The variables (upper case) whose value is only fit for a local run, sorted.

    A secret still at its declared default or at a ``change-me`` placeholder; a database URL with
    a local password (or none); no sign-in at all (neither OIDC_ISSUER nor API_TOKEN).
    """
    offending = set()
    for name, field in type(settings).model_fields.items():
        if not name.endswith(SECRET_SUFFIXES):
            continue
        value = _plain(getattr(settings, name))
        if value is None:
            continue
        if value == _plain(field.default) or str(value).startswith("change-me"):
            offending.add(name.upper())
    url = getattr(settings, "database_url", None)
    if url is not None:
        password = urlsplit(url).password
        if not password or LOCAL_DATABASE_PASSWORDS.match(password) or password.startswith("change-me"):
            offending.add("DATABASE_URL")
    no_sign_in = getattr(settings, "oidc_issuer", "") is None and getattr(settings, "api_token", "") is None
    if no_sign_in:
        offending.add("OIDC_ISSUER (or API_TOKEN)")
    return sorted(offending)
