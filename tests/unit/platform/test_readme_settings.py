"""Every environment variable a service or the Pix sandbox reads is documented in the README."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from shared.contracts.topics import SERVICES

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


def _settings_classes():
    for service in SERVICES:
        yield service, importlib.import_module(f"services.{service}.app").definition.settings_class
    from services.console.settings import ConsoleSettings

    yield "console", ConsoleSettings
    from deploy.pix_sandbox.__main__ import SandboxSettings

    yield "pix_sandbox", SandboxSettings
    from shared.settings import OperatorSettings

    yield "certibus", OperatorSettings


@pytest.mark.parametrize(
    ("owner", "settings_class"), list(_settings_classes()), ids=lambda v: getattr(v, "__name__", v)
)
def test_every_setting_is_in_the_readme(owner, settings_class):
    missing = [name.upper() for name in settings_class.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"{owner}: variables missing from the README's configuration tables: {missing}"
