"""Step 6 of the data flow: a report as JSON and back, through one configured cattrs converter.

The document carries each rule's prose once: ``rules`` maps a rule id to its title,
group, context, remediation, CWE and references, and each finding keeps only what is
its own (severity, where, what was observed) and points at its rule by ``rule_id``.
``from_json`` puts the texts back, so ``from_json(to_json(report)) == report``. A
finding whose texts differ from its rule's entry (made by hand, or by a plugin that
changed) keeps the differing ones inline. The shape is described by the JSON Schema
shipped beside this module (``schema_path()``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import attrs
import cattrs
from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as _make_json_converter

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import Finding
from ..model.report import Report

#: Bumped when the JSON shape changes in a way older readers cannot follow.
#: 3: rule texts moved from every finding to the document's ``rules`` catalogue.
SCHEMA_VERSION = 3

#: A finding's fields that come from its rule's declaration, stored once per document.
RULE_FIELDS = ("title", "group", "context", "remediation", "cwe", "references")


def make_converter() -> JsonConverter:
    """The converter mailtls uses: cattrs' JSON preset (datetimes as ISO 8601, enums as values),
    forbidding unknown keys so a typo in hand-written JSON is an error, not a silent default."""
    return _make_json_converter(forbid_extra_keys=True, omit_if_default=True)


_converter = make_converter()


def schema_path() -> Any:
    """The JSON Schema (draft 2020-12) of ``to_json``'s documents, shipped in the package."""
    return resources.files(__package__).joinpath("report.schema.json")


def _unstructured_default(name: str) -> Any:
    default = attrs.fields_dict(Finding)[name].default
    return list(default) if isinstance(default, tuple) else default


#: What a rule field is when the converter leaves it out (it omits defaults).
_DEFAULTS = {name: _unstructured_default(name) for name in RULE_FIELDS}


def _compact(finding: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    texts = {key: finding.get(key, _DEFAULTS[key]) for key in RULE_FIELDS}
    entry = rules.setdefault(finding["rule_id"], texts)
    own = {key: value for key, value in finding.items() if key not in RULE_FIELDS}
    own.update({key: texts[key] for key in RULE_FIELDS if texts[key] != entry[key]})
    return own


def _expand(finding: Any, rules: dict[str, Any]) -> Any:
    if not isinstance(finding, dict) or (not all(key in finding for key in RULE_FIELDS) and "rule_id" not in finding):
        return finding  # malformed: cattrs will say what is wrong
    missing = [key for key in RULE_FIELDS if key not in finding]
    if not missing:
        return finding
    entry = rules.get(finding["rule_id"]) if isinstance(finding["rule_id"], str) else None
    if not isinstance(entry, dict) or any(key not in entry for key in missing):
        raise SerializationError(f"finding of rule {finding['rule_id']!r} points at no complete entry in 'rules'")
    return {**finding, **{key: entry[key] for key in missing}}


def to_json(report: Report | Diff, *, indent: int | None = 2) -> str:
    """A report (or a diff of two) as one JSON document:
    ``{"schema": 3, "rules": {...}, "report": {...}}`` (``"diff"`` for a diff)."""
    rules: dict[str, dict[str, Any]] = {}
    if isinstance(report, Report):
        body = _converter.unstructure(report)
        for target in body.get("targets", ()):
            if "findings" in target:  # empty ones are left out, like every default
                target["findings"] = [_compact(f, rules) for f in target["findings"]]
        key = "report"
    elif isinstance(report, Diff):
        body = _converter.unstructure(report)
        for name in ("new", "resolved", "unverified"):
            if name in body:  # empty ones are left out, like every default
                body[name] = [_compact(f, rules) for f in body[name]]
        if "changed" in body:
            body["changed"] = [{side: _compact(c[side], rules) for side in ("old", "new")} for c in body["changed"]]
        key = "diff"
    else:
        raise SerializationError(f"to_json takes a mailtls.Report or Diff, got {type(report).__name__}")
    document = {"schema": SCHEMA_VERSION, "rules": dict(sorted(rules.items())), key: body}
    return json.dumps(document, indent=indent)


def from_json(text: str | bytes) -> Report:
    """A report back from ``to_json``'s output. Raises ``SerializationError`` on anything else."""
    try:
        document = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise SerializationError(f"not JSON: {exc}") from None
    if isinstance(document, dict) and document.get("schema") == SCHEMA_VERSION and "diff" in document:
        raise SerializationError("this document is a diff of two reports, not a report")
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION or "report" not in document:
        raise SerializationError(f"not a mailtls report document (expected schema {SCHEMA_VERSION})")
    rules = document.get("rules", {})
    body = document["report"]
    if not isinstance(rules, dict):
        raise SerializationError("not a valid mailtls report: 'rules' must be an object")
    if isinstance(body, dict) and isinstance(body.get("targets"), list):
        body = {
            **body,
            "targets": [
                {**t, "findings": [_expand(f, rules) for f in t["findings"]]}
                if isinstance(t, dict) and isinstance(t.get("findings"), list)
                else t
                for t in body["targets"]
            ],
        }
    try:
        return _converter.structure(body, Report)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        raise SerializationError(f"not a valid mailtls report: {detail}") from None
