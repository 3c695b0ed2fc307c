"""Step 6 of the data flow: a report as JSON and back, through one configured cattrs converter."""

from __future__ import annotations

import json

import cattrs
from cattrs.preconf.json import JsonConverter, make_converter as _make_json_converter

from .._errors import SerializationError
from ..model.report import Report

#: Bumped when the JSON shape changes in a way older readers cannot follow.
SCHEMA_VERSION = 2


def make_converter() -> JsonConverter:
    """The converter mailtls uses: cattrs' JSON preset (datetimes as ISO 8601, enums as values),
    forbidding unknown keys so a typo in hand-written JSON is an error, not a silent default."""
    return _make_json_converter(forbid_extra_keys=True)


_converter = make_converter()


def to_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as a JSON document (``{"schema": 1, "report": {...}}``)."""
    if not isinstance(report, Report):
        raise SerializationError(f"to_json takes a mailtls.Report, got {type(report).__name__}")
    return json.dumps({"schema": SCHEMA_VERSION, "report": _converter.unstructure(report)}, indent=indent)


def from_json(text: str | bytes) -> Report:
    """A report back from ``to_json``'s output. Raises ``SerializationError`` on anything else."""
    try:
        document = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise SerializationError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION or "report" not in document:
        raise SerializationError(f"not a mailtls report document (expected schema {SCHEMA_VERSION})")
    try:
        return _converter.structure(document["report"], Report)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        raise SerializationError(f"not a valid mailtls report: {detail}") from None
