"""docker-compose.yml stays consistent with the code: services, ports, variables, roles."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from deploy.local.localinfra.config import Config
from deploy.local.localinfra.realm import REALM, realm_json
from shared.contracts.topics import SERVICES
from shared.db import role_for
from shared.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
PROCESS_ENV = {"PYTHONUNBUFFERED"}
REALM_FILE = REPO / "deploy" / "local" / "keycloak" / "certibus-realm.json"
KEYCLOAK_ISSUER = f"http://keycloak:8080/realms/{REALM}"
OIDC_VARIABLES = ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_UAI_CLAIM", "OIDC_ROLES_CLAIM")
#: ``${NAME}`` or ``${NAME:-default}`` (or ``-default``), as compose interpolates them
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


def settings_fields(service: str) -> set[str]:
    definition = importlib.import_module(f"services.{service}.app").definition
    return {name.upper() for name in definition.settings_class.model_fields}


def test_compose_runs_every_service_and_nothing_else():
    run = {
        spec["command"][-1].removeprefix("services.")
        for spec in COMPOSE.values()
        if spec.get("command", [None])[-1] and str(spec["command"][-1]).startswith("services.")
    }
    assert run == {*SERVICES, "console"}


def test_the_console_reads_its_own_variables_and_the_services_by_their_compose_names():
    from services.console.settings import ConsoleSettings

    spec = COMPOSE["console"]
    assert spec["command"] == ["python", "-m", "services.console"] and spec["profiles"] == ["console"]
    fields = {name.upper() for name in ConsoleSettings.model_fields}
    unknown = set(spec["environment"]) - fields - PROCESS_ENV
    assert not unknown, f"console: variables the code does not read: {sorted(unknown)}"
    for service in ("scheduler", "eligibility", "finalisation", "export"):
        port = COMPOSE[service]["environment"]["HTTP_PORT"]
        assert spec["environment"][f"{service.upper()}_URL"] == f"http://{service}:{port}"
    assert f"{spec['environment']['HTTP_PORT']}:8006" in spec["ports"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_entry_point_variables_and_port_exist_in_the_code(service):
    spec = COMPOSE[service]
    assert spec["command"] == ["python", "-m", f"services.{service}"]
    assert (REPO / "services" / service / "__main__.py").exists()
    unknown = set(spec["environment"]) - settings_fields(service) - PROCESS_ENV
    assert not unknown, f"{service}: variables the code does not read: {sorted(unknown)}"
    port = spec["environment"]["HTTP_PORT"]
    assert f"{port}:{port}" in spec["ports"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_connects_as_its_own_provisioned_role(service):
    url = COMPOSE[service]["environment"]["DATABASE_URL"]
    user, password = re.match(r"postgresql://([^:]+):([^@]+)@", url).groups()
    assert user == role_for(service)
    assert COMPOSE["provision"]["environment"][f"CERTIBUS_DB_PASSWORD_{service.upper()}"] == password


def test_one_shot_jobs_and_sandbox_use_real_modules_and_variables():
    assert COMPOSE["provision"]["command"][-1] == "shared.provision"
    assert "DATABASE_ADMIN_URL" in (REPO / "shared" / "provision.py").read_text()
    assert COMPOSE["create-topics"]["command"] == ["certibus", "topics", "create"]
    # the image's ``pip install .`` puts the console script on the PATH
    assert 'certibus = "shared.cli:main"' in (REPO / "pyproject.toml").read_text()
    kafka_fields = {n.upper() for n in KafkaSettings.model_fields}
    assert set(COMPOSE["create-topics"]["environment"]) <= kafka_fields
    from deploy.pix_sandbox.__main__ import SandboxSettings

    sandbox_fields = {n.upper() for n in SandboxSettings.model_fields}
    assert set(COMPOSE["pix-sandbox"]["environment"]) <= sandbox_fields
    assert COMPOSE["pix-sandbox"]["command"][-1] == "deploy.pix_sandbox"


def test_broker_never_creates_topics_by_itself():
    assert COMPOSE["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_one_kafka_version_everywhere():
    """docker-compose.yml, the testcontainers path and the local Maven broker run the same Kafka."""
    from tests.conftest import KAFKA_IMAGE

    pom = (REPO / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    local_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert COMPOSE["kafka"]["image"] == KAFKA_IMAGE == f"apache/kafka:{local_version}"
    assert COMPOSE["postgres"]["image"].split(":")[1] == "15"


def interpolated(value: object) -> str | None:
    """A compose value as the container gets it with nothing exported in the shell: ``${X:-d}`` → d,
    ``${X}`` → "", no value at all → None (compose leaves the variable unset)."""
    if value is None:
        return None
    return INTERPOLATION.sub(lambda m: m["default"] or "", str(value))


def container_env(name: str) -> dict[str, str]:
    """The variables a compose service's container is started with (those without a value: not set)."""
    environment = COMPOSE[name]["environment"]
    return {k: v for k, raw in environment.items() if (v := interpolated(raw)) is not None}


@pytest.mark.parametrize("service", [*SERVICES, "console"])
def test_every_school_api_signs_in_at_the_provider_and_no_token_opens_it_by_default(service):
    spec = COMPOSE[service]["environment"]
    env = container_env(service)
    missing = set(OIDC_VARIABLES) - set(spec)
    assert not missing, f"{service}: OpenID Connect settings missing: {sorted(missing)}"
    assert env["OIDC_ISSUER"] == KEYCLOAK_ISSUER, f"{service}: OIDC_ISSUER is not the compose provider"
    assert "API_TOKEN" not in env, f"{service}: API_TOKEN has a default ({spec['API_TOKEN']!r})"


@pytest.mark.parametrize("service", SERVICES)
def test_api_token_passes_through_only_when_the_deployer_exports_it(service):
    """The trusted-gateway fallback: listed without a value, so compose takes it from the shell or unsets it."""
    assert "API_TOKEN" in COMPOSE[service]["environment"]
    assert COMPOSE[service]["environment"]["API_TOKEN"] is None


def settings_class_of(name: str) -> type[BaseSettings]:
    if name == "console":
        from services.console.settings import ConsoleSettings

        return ConsoleSettings
    return importlib.import_module(f"services.{name}.app").definition.settings_class


def env_names(field_name: str, field: FieldInfo) -> set[str]:
    """The variables a settings field is read from: its name, or its validation aliases."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return {str(choice).upper() for choice in alias.choices}
    return {str(alias).upper()} if isinstance(alias, str) else {field_name.upper()}


@pytest.mark.parametrize("service", [*SERVICES, "console"])
def test_every_variable_without_a_default_is_set_and_the_settings_load(service, monkeypatch):
    """What the service reads and has no default for is in its compose environment, and the
    environment as the container gets it is accepted by the service's own Settings."""
    settings_class = settings_class_of(service)
    env = container_env(service)
    for name, field in settings_class.model_fields.items():
        names = env_names(name, field)
        if field.is_required():
            assert names & set(env), f"{service}: {sorted(names)} has no default and is not set"
        for variable in names:
            monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings = settings_class(_env_file=None)
    assert settings.oidc_issuer == KEYCLOAK_ISSUER
    assert getattr(settings, "api_token", None) is None


def test_keycloak_is_the_version_deploy_local_runs_and_imports_its_realm():
    spec = COMPOSE["keycloak"]
    pom = (REPO / "deploy" / "local" / "keycloak" / "pom.xml").read_text()
    local_version = re.search(r"<keycloak.version>([^<]+)</keycloak.version>", pom).group(1)
    assert spec["image"] == f"quay.io/keycloak/keycloak:{local_version}"
    assert "--import-realm" in spec["command"]
    (mount,) = [v for v in spec["volumes"] if v.endswith(":/opt/keycloak/data/import/certibus-realm.json:ro")]
    realm_file = REPO / mount.split(":")[0]
    assert realm_file == REALM_FILE and realm_file.exists()
    # the issuer is the same for the services (compose network) and a browser on the host
    assert f"{spec['environment']['KC_HOSTNAME']}/realms/{REALM}" == KEYCLOAK_ISSUER
    assert "8080:8080" in spec["ports"]
    for service in (*SERVICES, "console"):
        assert COMPOSE[service]["depends_on"].get("keycloak", {}).get("condition") == "service_healthy" or (
            service == "console"  # the console waits for the scheduler, which waits for Keycloak
            and COMPOSE["scheduler"]["depends_on"]["keycloak"]["condition"] == "service_healthy"
        )


def test_the_committed_realm_is_the_one_deploy_local_generates_for_its_schools():
    expected = realm_json(list(Config.keycloak_schools))
    assert REALM_FILE.read_text(encoding="utf-8").rstrip("\n") == expected, (
        f"{REALM_FILE.relative_to(REPO)} is stale: python3 -m deploy.local.localinfra.realm "
        f"{' '.join(Config.keycloak_schools)} > {REALM_FILE.relative_to(REPO)}"
    )


def test_the_sandbox_posts_results_with_a_token_finalisation_accepts():
    finalisation = COMPOSE["finalisation"]["environment"]
    accepted = {finalisation.get("API_TOKEN"), finalisation.get("FINALISATION_API_TOKEN")} - {None}
    assert COMPOSE["pix-sandbox"]["environment"]["FINALISATION_API_TOKEN"] in accepted
