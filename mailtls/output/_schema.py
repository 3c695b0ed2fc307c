"""The JSON Schema of ``to_json``'s documents, derived from the attrs classes themselves.

The shipped file, ``report.schema.json``, is this module's output; a test checks that
they agree, so the schema cannot drift from the records. Regenerate after changing a
record::

    python -m mailtls.output._schema > mailtls/output/report.schema.json
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from typing import Any

import attrs

from ..model.diff import Change, Diff
from ..model.findings import Finding, RuleTexts
from ..model.report import Report
from .json import SCHEMA_VERSION, TEXT_FIELDS


def _type(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is type(None):
        return {"type": "null"}
    if hint is dt.datetime:
        return {"type": "string", "format": "date-time"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if isinstance(hint, type) and attrs.has(hint):
        _define(hint, defs)
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        return {"type": "array", "items": _type(item, defs)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type(arg, defs) for arg in typing.get_args(hint)]}
    raise TypeError(f"no JSON Schema for {hint!r}")


def _define(cls: type, defs: dict[str, Any], *, optional: tuple[str, ...] = ()) -> None:
    if cls.__name__ in defs:
        return
    defs[cls.__name__] = {}  # a placeholder, for recursive shapes
    hints = typing.get_type_hints(cls)
    properties = {field.name: _type(hints[field.name], defs) for field in attrs.fields(cls)}
    required = [
        field.name for field in attrs.fields(cls) if field.default is attrs.NOTHING and field.name not in optional
    ]
    defs[cls.__name__] = {
        "type": "object",
        "description": ((cls.__doc__ or "").strip().splitlines() or [cls.__name__])[0],
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _define_finding(defs: dict[str, Any]) -> None:
    """A finding as a document holds it: its own fields, its ``rule_id``, and those of its
    rule's texts that differ from the catalogue's entry."""
    _define(RuleTexts, defs)
    _define(Finding, defs)
    finding = defs["Finding"]
    text_hints = typing.get_type_hints(RuleTexts)
    properties = {name: value for name, value in finding["properties"].items() if name != "rule"}
    finding["properties"] = {
        "rule_id": {"type": "string"},
        **properties,
        **{name: _type(text_hints[name], defs) for name in TEXT_FIELDS},
    }
    finding["required"] = ["rule_id", *(name for name in finding["required"] if name != "rule")]


def schema() -> dict[str, Any]:
    """The schema of a report document and of a diff document."""
    defs: dict[str, Any] = {}
    _define_finding(defs)
    _define(Report, defs)
    _define(Change, defs)
    _define(Diff, defs)
    common = {
        "schema": {"const": SCHEMA_VERSION},
        "rules": {"type": "object", "additionalProperties": {"$ref": "#/$defs/RuleTexts"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mailtls.invalid/schema/{SCHEMA_VERSION}/report.schema.json",
        "title": "mailtls report or diff",
        "oneOf": [
            {
                "type": "object",
                "properties": {**common, "report": {"$ref": "#/$defs/Report"}},
                "required": ["schema", "rules", "report"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {**common, "diff": {"$ref": "#/$defs/Diff"}},
                "required": ["schema", "rules", "diff"],
                "additionalProperties": False,
            },
        ],
        "$defs": dict(sorted(defs.items())),
    }


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2))
