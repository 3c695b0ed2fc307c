"""Step 6 of the data flow: a report as JSON and back, through one configured cattrs converter.

The document carries each rule's texts once: ``rules`` maps a rule id to its ``RuleTexts``,
and each finding keeps only what is its own (severity, where, what was observed) and
points at its rule by ``rule_id``. ``from_json`` puts the texts back, so
``from_json(to_json(report)) == report``. A finding whose texts differ from its rule's
entry (made by hand, or by a plugin that changed) keeps the differing ones inline. The
shape is described by the JSON Schema shipped beside this module (``schema_path()``).

Documents of schema 3 are read too (``_from_schema_3``): their catalogue had no rule
descriptions, and their host and port records named nmap's state reason ``reason``.
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
from ..model.domain import StsMode
from ..model.findings import RuleTexts
from ..model.report import Report

#: Bumped when the JSON shape changes in a way older readers cannot follow.
#: 3: rule texts moved from every finding to the document's ``rules`` catalogue.
#: 4: the catalogue holds each rule's whole ``RuleTexts`` (its description too); nmap's
#:    state reason of a host or port is ``status_reason``/``state_reason``; a domain's
#:    MX trust and MTA-STS mode are enums.
SCHEMA_VERSION = 4
#: The versions ``from_json`` reads.
READABLE_VERSIONS = (3, 4)

#: A rule's texts that a finding may carry inline, where they differ from its rule's entry.
TEXT_FIELDS = tuple(field.name for field in attrs.fields(RuleTexts) if field.name != "id")


def make_converter() -> JsonConverter:
    """The converter mailtls uses: cattrs' JSON preset (datetimes as ISO 8601, enums as values),
    forbidding unknown keys so a typo in hand-written JSON is an error, not a silent default."""
    return _make_json_converter(forbid_extra_keys=True, omit_if_default=True)


_converter = make_converter()


def schema_path() -> Any:
    """The JSON Schema (draft 2020-12) of ``to_json``'s documents, shipped in the package."""
    return resources.files(__package__).joinpath("report.schema.json")


def _compact(finding: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A finding's own fields and its ``rule_id``; its rule's texts go to the catalogue."""
    own = dict(finding)
    texts = own.pop("rule")
    entry = rules.setdefault(texts["id"], texts)
    # The converter leaves default texts out: compare them as the full RuleTexts.
    inline = {key: texts.get(key, _TEXT_DEFAULTS[key]) for key in TEXT_FIELDS}
    written = {key: entry.get(key, _TEXT_DEFAULTS[key]) for key in TEXT_FIELDS}
    return {"rule_id": texts["id"], **own, **{key: v for key, v in inline.items() if v != written[key]}}


def _default(name: str) -> Any:
    default = attrs.fields_dict(RuleTexts)[name].default
    return list(default) if isinstance(default, tuple) else default


_TEXT_DEFAULTS = {name: _default(name) for name in TEXT_FIELDS}


def _expand(finding: Any, rules: dict[str, Any]) -> Any:
    """A finding as the converter reads it: its rule's entry, with any inline texts over it."""
    if not isinstance(finding, dict) or not isinstance(finding.get("rule_id"), str):
        return finding  # malformed: cattrs will say what is wrong
    entry = rules.get(finding["rule_id"])
    if not isinstance(entry, dict):
        raise SerializationError(f"finding of rule {finding['rule_id']!r} points at no complete entry in 'rules'")
    own = {key: value for key, value in finding.items() if key != "rule_id" and key not in TEXT_FIELDS}
    inline = {key: value for key, value in finding.items() if key in TEXT_FIELDS}
    return {**own, "rule": {**entry, **inline}}


def to_json(report: Report | Diff, *, indent: int | None = 2) -> str:
    """A report (or a diff of two) as one JSON document:
    ``{"schema": 4, "rules": {...}, "report": {...}}`` (``"diff"`` for a diff)."""
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
    version = document.get("schema") if isinstance(document, dict) else None
    if version in READABLE_VERSIONS and "diff" in document:
        raise SerializationError("this document is a diff of two reports, not a report")
    if version not in READABLE_VERSIONS or "report" not in document:
        expected = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise SerializationError(f"not a mailtls report document (expected schema {expected})")
    rules = document.get("rules", {})
    body = document["report"]
    if not isinstance(rules, dict):
        raise SerializationError("not a valid mailtls report: 'rules' must be an object")
    if version == 3:
        rules, body = _from_schema_3(rules, body)
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


def _from_schema_3(rules: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
    """A schema 3 document in schema 4's shape: each catalogue entry gains its id (schema 3 had
    no descriptions: they stay empty), nmap's reason of a host and of a port its own name, and
    a mail domain's MX trust and MTA-STS mode leave out the values their enums do not know."""
    entries = {key: {**entry, "id": key} if isinstance(entry, dict) else entry for key, entry in rules.items()}
    for target in _items(body, "targets"):
        host = target.get("host")
        if isinstance(host, dict):
            _rename(host, "reason", "status_reason")
            for port in _items(host, "ports"):
                _rename(port, "reason", "state_reason")
        domain = target.get("domain")
        if isinstance(domain, dict):
            for mx in _items(domain, "mx"):
                if mx.get("trust") == "":
                    del mx["trust"]
            sts = domain.get("mta_sts")
            policy = sts.get("policy") if isinstance(sts, dict) else None
            if isinstance(policy, dict) and policy.get("mode") not in [m.value for m in StsMode]:
                policy.pop("mode", None)
    return entries, body


def _items(parent: Any, key: str) -> list[dict[str, Any]]:
    found = parent.get(key) if isinstance(parent, dict) else None
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _rename(record: dict[str, Any], old: str, new: str) -> None:
    if old in record:
        record[new] = record.pop(old)
