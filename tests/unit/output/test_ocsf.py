"""``--format ocsf``: OCSF 1.8.0 Compliance Finding events, validated against the OCSF
schema itself, not a hand-written check.

The validator: ``ocsf-json-schema`` (PyPI) carries the compiled OCSF schemas (1.8.0 among
them, as the OCSF schema server exports them) and turns a class into a JSON Schema
(draft 2020-12) with every object embedded, its required attributes, its enums and no
attribute it does not define; ``jsonschema`` applies it. The names that go with the ids
(``class_name``, ``activity_name``, ``status`` ...) are checked against the same schema's
captions. ``test_the_bundled_schema_is_the_ocsf_repository_s`` (run when
MAILTLS_OCSF_SCHEMA_REPO names a checkout of github.com/ocsf/ocsf-schema at tag 1.8.0)
compiles that repository with the OCSF project's own compiler (``ocsf-lib``'s
``ocsf.compile``) and checks that the bundled schema agrees with it for this class and
every object the events use.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import mailtls
from mailtls.output.defectdojo import defectdojo_document
from mailtls.output.ocsf import OCSF_VERSION, ocsf_events

from ...helpers import recorded
from .pipelines import lab_report, plain_with_143_cut_short

ocsf_json_schema = pytest.importorskip("ocsf_json_schema")
jsonschema = pytest.importorskip("jsonschema")

CLASS = "compliance_finding"
#: The objects the events use, for the comparison with the OCSF repository.
OBJECTS = ("compliance", "evidences", "network_endpoint", "device", "finding_info", "metadata", "product",
           "remediation", "kb_article", "analytic")  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The compiled OCSF 1.8.0 schema that ocsf-json-schema carries."""
    return ocsf_json_schema.get_ocsf_schema(version=OCSF_VERSION)


@pytest.fixture(scope="module")
def validator(schema) -> Any:
    class_schema = ocsf_json_schema.OcsfJsonSchemaEmbedded(schema).get_class_schema(class_name=CLASS, profiles=[])
    jsonschema.Draft202012Validator.check_schema(class_schema)
    return jsonschema.Draft202012Validator(class_schema)


@pytest.fixture(scope="module")
def report() -> mailtls.Report:
    return lab_report()


@pytest.fixture(scope="module")
def events(report) -> list[dict[str, Any]]:
    return [json.loads(line) for line in mailtls.to_ocsf(report).splitlines()]


def errors(validator, event: dict[str, Any]) -> list[str]:
    return [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(event)]


def _caption(attribute: dict[str, Any], value: int) -> str:
    return str(attribute["enum"][str(value)]["caption"])


def test_every_event_validates_against_the_ocsf_schema(validator, report, events):
    assert len(events) == len(report.findings) + 2  # one per finding, one per inconclusive port
    assert {e["class_uid"] for e in events} == {2003}
    for event in events:
        assert errors(validator, event) == [], event["finding_info"]["uid"]


def test_names_match_the_schema_s_captions(schema, events):
    cls = schema["classes"][CLASS]
    attributes = cls["attributes"]
    status = schema["objects"]["compliance"]["attributes"]["status_id"]
    for event in events:
        assert event["class_name"] == cls["caption"]
        assert event["category_name"] == schema["categories"]["attributes"][cls["category"]]["caption"]
        assert event["category_uid"] == schema["categories"]["attributes"][cls["category"]]["uid"]
        assert event["activity_name"] == _caption(attributes["activity_id"], event["activity_id"])
        assert event["type_name"] == _caption(attributes["type_uid"], event["type_uid"])
        assert event["severity"] == _caption(attributes["severity_id"], event["severity_id"])
        assert event["status"] == _caption(attributes["status_id"], event["status_id"])
        assert event["compliance"]["status"] == _caption(status, event["compliance"]["status_id"])
        assert 0 <= event["severity_id"] <= 6
        assert event["metadata"]["version"] == schema["version"] == OCSF_VERSION


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.update(class_uid=2002),
        lambda e: e.update(severity_id=7),
        lambda e: e.update(type_uid=200309),
        lambda e: e.update(time="2026-11-29"),
        lambda e: e.update(group="not an OCSF attribute"),
        lambda e: e.pop("finding_info"),
        lambda e: e["finding_info"].pop("uid"),
        lambda e: e["compliance"].update(status_id=5),
        lambda e: e["device"].pop("type_id"),
        lambda e: e["evidences"][0]["dst_endpoint"].update(port="smtp"),
        lambda e: e["evidences"][0]["dst_endpoint"].update(ip="mail.example"),
        lambda e: e["metadata"].pop("product"),
    ],
)
def test_the_validator_rejects_a_wrong_event(validator, events, change):
    # The schema is really applied: each of these breaks a rule of OCSF 1.8.0.
    broken = copy.deepcopy(events[0])
    change(broken)
    assert errors(validator, broken) != []


def test_a_finding_names_host_port_rule_and_fix(report, events):
    by_uid = {e["finding_info"]["uid"]: e for e in events}
    finding = next(f for f in report.findings if f.rule_id == "MT305")  # localhost:993
    event = by_uid["MT305@localhost:993"]
    assert event["device"] == {"type_id": 1, "type": "Server", "ip": "127.0.0.1", "hostname": "localhost"}
    assert event["evidences"][0]["dst_endpoint"] == {
        "ip": "127.0.0.1",
        "hostname": "localhost",
        "svc_name": "imap",
        "port": 993,
    }
    assert event["evidences"][0]["data"] == {"evidence": list(finding.evidence)}
    assert event["finding_info"]["analytic"]["uid"] == "MT305"
    assert event["compliance"] | {"desc": ""} == {
        "control": "MT305",
        "category": finding.group,
        "status_id": 3,
        "status": "Fail",
        "desc": "",
        "compliance_references": [
            {"uid": "CWE-297", "title": "CWE-297", "src_url": "https://cwe.mitre.org/data/definitions/297.html"}
        ],
    }
    assert event["remediation"]["desc"] == finding.remediation
    assert event["severity_id"] == 3 and event["activity_id"] == 1 and event["type_uid"] == 200301
    # time: when nmap scanned the host (the XML's starttime), in milliseconds
    started = re.search(rb'<host starttime="(\d+)"', recorded("named").read_bytes()).group(1)
    assert event["time"] == int(started) * 1000


def test_an_inconclusive_port_is_a_warning(validator, events):
    by_uid = {e["finding_info"]["uid"]: e for e in events}
    event = by_uid["inconclusive@127.0.0.11:143"]
    assert event["compliance"]["status_id"] == 2 and event["compliance"]["status"] == "Warning"
    assert "tcpwrapped" in event["compliance"]["status_detail"]
    assert event["severity_id"] == 1
    assert event["evidences"][0]["dst_endpoint"]["port"] == 143
    assert event["finding_info"]["title"] == "Inconclusive: 127.0.0.11:143 could not be assessed"
    assert "inconclusive@192.0.2.10:143" in by_uid


def test_uids_are_stable_and_the_same_key_as_defectdojo_s(report, events):
    uids = [e["finding_info"]["uid"] for e in events]
    assert len(set(uids)) == len(uids)
    assert uids == [f["unique_id_from_tool"] for f in defectdojo_document(report)["findings"]]
    xml = plain_with_143_cut_short()
    assert ocsf_events(mailtls.assess_xml(xml)) == ocsf_events(mailtls.assess_xml(xml))


def test_a_diff_opens_updates_and_closes(validator):
    old = mailtls.assess_xml(recorded("plain"))
    (target,) = old.targets
    kept = tuple(f for f in target.findings if f.port != 110)
    fixed = mailtls.diff(old, attrs.evolve(old, targets=(attrs.evolve(target, findings=kept),)))
    unverified = mailtls.diff(old, mailtls.assess_xml(plain_with_143_cut_short()))
    events = ocsf_events(fixed) + ocsf_events(unverified)
    for event in events:
        assert errors(validator, event) == []
    closed = [e for e in events if e["activity_id"] == 3]
    assert len(closed) == len(fixed.resolved)
    assert all(e["compliance"]["status"] == "Pass" and e["status"] == "Resolved" for e in closed)
    warned = [e for e in events if e["compliance"]["status"] == "Warning"]
    assert len(warned) == len(unverified.unverified) and all(e["activity_id"] == 2 for e in warned)


def test_cli_writes_one_event_a_line(validator, tmp_path):
    out = tmp_path / "events.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "mailtls", "import", str(recorded("weak")), "--format", "ocsf", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 43
    for line in lines:
        assert errors(validator, json.loads(line)) == []


@pytest.mark.skipif(
    not os.environ.get("MAILTLS_OCSF_SCHEMA_REPO"),
    reason="set MAILTLS_OCSF_SCHEMA_REPO to a checkout of github.com/ocsf/ocsf-schema at tag 1.8.0",
)
def test_the_bundled_schema_is_the_ocsf_repository_s(schema, tmp_path):
    pytest.importorskip("ocsf.compile")
    repository = Path(os.environ["MAILTLS_OCSF_SCHEMA_REPO"])
    compiled_text = subprocess.run(
        [sys.executable, "-m", "ocsf.compile", str(repository)], capture_output=True, text=True, check=True
    ).stdout
    compiled = json.loads(compiled_text)
    assert compiled["version"] == OCSF_VERSION

    def shape(record: dict[str, Any]) -> dict[str, tuple[str | None, frozenset[str]]]:
        return {
            name: (attribute.get("requirement"), frozenset(attribute.get("enum") or {}))
            for name, attribute in record["attributes"].items()
        }

    assert shape(schema["classes"][CLASS]) == shape(compiled["classes"][CLASS])
    for name in OBJECTS:
        assert shape(schema["objects"][name]) == shape(compiled["objects"][name]), name
