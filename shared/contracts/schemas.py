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

from shared.contracts.events import CATALOGUE, PERSONAL_DATA, Event

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"


def schema_of(event_cls: type[Event]) -> dict[str, Any]:
    schema = event_cls.model_json_schema(mode="serialization")
    schema["$id"] = f"https://certibus.example/events/{event_cls.event_type}.json"
    schema["title"] = event_cls.__name__
    schema["x-ce-type"] = event_cls.event_type
    schema["x-topic"] = event_cls.topic
    schema["x-subject"] = event_cls.subject_field
    schema[PERSONAL_DATA] = list(event_cls.personal_data)
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


CATALOGUE_INTRO = """# Event catalogue (v1)

Generated from `shared/contracts/events.py` by `python -m shared.contracts.schemas`; do not edit by
hand. The JSON Schema of each type sits next to this page (`<ce_type>.json`).

Every event travels as a CloudEvents 1.0 binary-mode Kafka record: headers `ce_id` (UUIDv7),
`ce_source` (`/certibus/<service>`), `ce_type` (below, with its version), `ce_specversion` (`1.0`),
`ce_time` (RFC 3339, UTC), `ce_subject` (the aggregate id, also the Kafka key), `content-type:
application/json`; the value is the JSON body described below. Events of one aggregate keep their
order (same key, same partition).

Compatibility: consumers ignore fields they do not know. Adding an optional field keeps the version;
removing, renaming or retyping a field, or adding a required one, makes a new type (`….v2`)
published alongside the old one while subscribers move. `tests/unit/platform/test_contracts.py`
fails on a breaking change to a committed schema.

Personal data: a field marked **personal** (`x-personal-data: true` in its schema; each schema's
top-level `x-personal-data` lists them, dotted for nested ones) holds a learner's or a staff
member's personal data (names, INE, birth date and place, sex, free text about a candidate). A
subscriber that stores such a field must erase it for a learner when
`certibus.eligibility.learner_erasure_requested.v1` names them, and must not let events published
before the erasure bring it back (README, *Erasing a learner*). `tests/unit/platform/test_personal_data.py`
fails when a field named or typed like personal data is not marked.
"""


def _field_type(schema: dict[str, Any], root: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_field_type(s, root) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_field_type(schema.get('items', {}), root)}]"
    if "enum" in schema:
        return " / ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "object" and "additionalProperties" in schema:
        return f"map[string, {_field_type(schema['additionalProperties'], root)}]"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _field_rows(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = []
    for name, field in schema.get("properties", {}).items():
        description = field.get("description", "").replace("|", "/")
        flag = "**personal**" if field.get(PERSONAL_DATA) else ""
        rows.append(
            f"| `{name}` | {_field_type(field, root)} | {'yes' if name in required else 'no'} | {flag} | {description} |"
        )
    return rows


TABLE_HEAD = "| field | type | required | personal | meaning |\n|---|---|---|---|---|"


def render_catalogue() -> str:
    lines = [CATALOGUE_INTRO]
    for topic in sorted({cls.topic for cls in CATALOGUE}):
        lines.append(f"\n## Topic `{topic}`\n")
        for cls in (c for c in CATALOGUE if c.topic == topic):
            schema = schema_of(cls)
            lines.append(f"### {cls.__name__} — `{cls.event_type}`\n")
            doc = (cls.__doc__ or "").strip().splitlines()
            if doc and not doc[0].startswith("Base of every event"):
                lines.append(doc[0] + "\n")
            lines.append(
                f"Key / `ce_subject`: `{cls.subject_field}`. Schema: [{cls.event_type}.json]({cls.event_type}.json)\n"
            )
            fields = ", ".join(f"`{f}`" for f in cls.personal_data)
            lines.append(f"Personal data: {fields}.\n" if fields else "Personal data: none.\n")
            lines.append(TABLE_HEAD)
            lines += _field_rows(schema, schema)
            for name, nested in schema.get("$defs", {}).items():
                lines.append(f"\n`{name}`:\n\n{TABLE_HEAD}")
                lines += _field_rows(nested, schema)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_cls in CATALOGUE:
        path = directory / f"{event_cls.event_type}.json"
        path.write_text(render(schema_of(event_cls)), encoding="utf-8")
        written.append(path)
    readme = directory / "README.md"
    readme.write_text(render_catalogue(), encoding="utf-8")
    written.append(readme)
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
