"""JSON Schemas of the event catalogue, committed under docs/events/, and the compatibility rule.

``python -m shared.contracts.schemas`` (re)writes docs/events/<type>.json. A committed schema is a
promise to subscribers: a change that removes or retypes a field, or adds a required one, breaks
it and needs a new event type (``….v2``). ``breaking_changes`` says which changes do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contracts.events import CATALOGUE, Event

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"


def schema_of(event_cls: type[Event]) -> dict[str, Any]:
    schema = event_cls.model_json_schema(mode="serialization")
    schema["$id"] = f"https://certibus.example/events/{event_cls.event_type}.json"
    schema["title"] = event_cls.__name__
    schema["x-ce-type"] = event_cls.event_type
    schema["x-topic"] = event_cls.topic
    schema["x-subject"] = event_cls.subject_field
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_cls in CATALOGUE:
        path = directory / f"{event_cls.event_type}.json"
        path.write_text(render(schema_of(event_cls)), encoding="utf-8")
        written.append(path)
    return written


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {})[name]
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """The JSON types (and formats) a value may take, following refs and anyOf."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return set().union(*(_types(s, root) for s in schema["anyOf"]))
    kind = schema.get("type", "object" if "properties" in schema else "any")
    return {f"{kind}:{schema['format']}" if "format" in schema else str(kind)}


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "", *, roots=None) -> list[str]:
    """Why ``new`` would break a subscriber written against ``old`` (empty when compatible)."""
    old_root, new_root = roots or (old, new)
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_field in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{where}: removed")
            continue
        old_types, new_types = _types(old_field, old_root), _types(new_props[name], new_root)
        if not new_types <= old_types | {"any"} and old_types != {"any"}:
            problems.append(f"{where}: type {sorted(old_types)} became {sorted(new_types)}")
        old_item, new_item = _resolve(old_field, old_root), _resolve(new_props[name], new_root)
        if "items" in old_item and "items" in new_item:
            problems += breaking_changes(
                old_item["items"], new_item["items"], f"{where}[].", roots=(old_root, new_root)
            )
        elif "properties" in old_item and "properties" in new_item:
            problems += breaking_changes(old_item, new_item, f"{where}.", roots=(old_root, new_root))
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{path}{name}: new required field")
    return problems


if __name__ == "__main__":
    for written in write_all():
        print(written)
    sys.exit(0)
