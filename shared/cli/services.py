"""The service definitions the command works on, loaded by name.

``shared/`` imports no service (tests/unit/platform/test_shape.py): the command finds a service the
way ``python -m services.<name>`` does, by its module name, when an operator names it.
"""

from __future__ import annotations

import importlib

from shared.service import ServiceDefinition


def definition(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"services.{service}.app")
    found = module.definition
    assert isinstance(found, ServiceDefinition), f"services.{service}.app.definition"
    return found
