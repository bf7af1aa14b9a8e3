"""docker-compose.yml stays consistent with the code: services, ports, variables, roles."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from shared.contracts.topics import SERVICES
from shared.db import role_for
from shared.settings import KafkaSettings, ServiceSettings

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
PROCESS_ENV = {"PYTHONUNBUFFERED"}


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


@pytest.mark.parametrize("service", SERVICES)
def test_every_school_api_is_closed_by_a_token(service):
    ServiceSettings(api_token=COMPOSE[service]["environment"]["API_TOKEN"])  # a token the service accepts


def test_the_sandbox_posts_results_with_a_token_finalisation_accepts():
    finalisation = COMPOSE["finalisation"]["environment"]
    accepted = {finalisation.get("API_TOKEN"), finalisation.get("FINALISATION_API_TOKEN")} - {None}
    assert COMPOSE["pix-sandbox"]["environment"]["FINALISATION_API_TOKEN"] in accepted
