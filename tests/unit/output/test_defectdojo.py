"""``--format defectdojo``: a file that DefectDojo's "Generic Findings Import" accepts whole,
and whose findings keep their identity from one scan to the next.

The rules below are DefectDojo's, read from its source at commit
7cfa159a6767b0ac6e66f3b1597a997e607e7308 (DefectDojo/django-DefectDojo, 2026-08-07):

- dojo/tools/generic/json_parser.py, GenericJSONParser._get_test_json: the top-level keys
  it reads; per finding, the keys it pops before checking (endpoints, files, tags,
  vulnerability_ids, cwes), the required keys, and the allowed list (a key outside it
  raises "Not allowed fields are present" and the whole import fails); NUMERIC_FIELDS.
- dojo/importers/base_importer.py, BaseImporter.sanitize_severity: the severities
  (dojo/models.py SEVERITY_CHOICES: Info, Low, Medium, High, Critical).
- dojo/endpoint/models.py, Endpoint: the fields an endpoint dict may name, and clean()'s
  checks of protocol, host and port; dojo/tools/locations.py, LocationData.url: the keys
  taken when V3_FEATURE_LOCATIONS is on (an endpoint dict must suit both).
- dojo/finding/models.py, Finding: the lengths of the character fields written here.
- dojo/settings/settings.dist.py: "Generic Findings Import" deduplicates by hash_code over
  the legacy fields (title, cwe, line, file_path, description), or by unique_id_from_tool
  when DEDUPLICATION_ALGORITHM_PER_PARSER says so.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import attrs
import pytest

import mailtls
from mailtls.output.defectdojo import defectdojo_document

from ...helpers import recorded
from .pipelines import lab_report, later, plain_with_143_cut_short

# -- DefectDojo's rules, as its source states them (see the module docstring) ---------------

TOP_LEVEL = {"name", "type", "version", "description", "dynamic_tool", "static_tool", "soc", "findings"}
POPPED = {"endpoints", "files", "tags", "vulnerability_ids", "cwes"}
REQUIRED = {"title", "severity", "description"}
ALLOWED = {
    "date", "cwe", "cve", "epss_score", "epss_percentile", "cvssv3", "cvssv3_score", "cvssv4", "cvssv4_score",
    "mitigation", "impact", "steps_to_reproduce", "severity_justification", "references", "active", "verified",
    "false_p", "out_of_scope", "risk_accepted", "under_review", "is_mitigated", "thread_id", "mitigated",
    "numerical_severity", "param", "payload", "line", "file_path", "component_name", "component_version",
    "static_finding", "dynamic_finding", "scanner_confidence", "unique_id_from_tool", "vuln_id_from_tool",
    "sast_source_object", "sast_sink_object", "sast_source_line", "sast_source_file_path", "nb_occurences",
    "publish_date", "service", "planned_remediation_date", "planned_remediation_version", "effort_for_fixing",
    "tags", "kev_date", "known_exploited", "ransomware_used", "fix_available", "fix_version",
} | REQUIRED  # fmt: skip
NUMERIC = {"cvssv3_score": float, "cvssv4_score": float, "cwe": int, "epss_percentile": float,
           "epss_score": float, "line": int, "nb_occurences": int, "sast_source_line": int,
           "scanner_confidence": int, "thread_id": int}  # fmt: skip
SEVERITIES = {"Info", "Low", "Medium", "High", "Critical"}
BOOLEAN = {"active", "verified", "false_p", "out_of_scope", "risk_accepted", "under_review", "is_mitigated",
           "static_finding", "dynamic_finding", "known_exploited", "ransomware_used", "fix_available"}  # fmt: skip
TEXT = {"title", "description", "mitigation", "impact", "steps_to_reproduce", "severity_justification",
        "references", "unique_id_from_tool", "vuln_id_from_tool", "param", "payload"}  # fmt: skip
MAX_LENGTH = {"title": 511, "unique_id_from_tool": 500, "vuln_id_from_tool": 500, "severity": 200}
# Endpoint(**item) takes its model fields; LocationData.url(**item) takes url, host, port,
# protocol, path, query, fragment, user_info. A dict that works with both names only these.
ENDPOINT_KEYS = {"host", "port", "protocol", "path", "query", "fragment"}
PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9\.\-\+]+$")  # Endpoint.clean (RFC 3986 scheme)
HOST = re.compile(r"^[A-Za-z0-9_\-\+][A-Za-z0-9_\.\-\+]+$")  # Endpoint.clean, else an IP address


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def violations(document: Any) -> list[str]:
    """Everything in ``document`` that DefectDojo's generic JSON import would reject."""
    if not isinstance(document, dict):
        return ["the document is not a JSON object"]
    found = [f"top-level key {k!r} is not read" for k in sorted(set(document) - TOP_LEVEL)]
    findings = document.get("findings")
    if not isinstance(findings, list):
        return [*found, "'findings' is not a list"]
    for i, item in enumerate(findings):
        where = f"finding {i} ({item.get('title', '?')!r})"
        checked = set(item) - POPPED
        found += [f"{where}: required key {k!r} missing" for k in sorted(REQUIRED - checked)]
        found += [f"{where}: key {k!r} is not allowed" for k in sorted(checked - ALLOWED)]
        if item.get("severity") not in SEVERITIES:
            found.append(f"{where}: severity {item.get('severity')!r} is not one of {sorted(SEVERITIES)}")
        for key, kind in NUMERIC.items():
            if key in item and (isinstance(item[key], bool) or not isinstance(item[key], kind)):
                found.append(f"{where}: {key} {item[key]!r} is not a {kind.__name__} (it would be dropped)")
        for key in BOOLEAN & set(item):
            if not isinstance(item[key], bool):
                found.append(f"{where}: {key} is not a boolean")
        for key in TEXT & set(item):
            if not isinstance(item[key], str):
                found.append(f"{where}: {key} is not a string")
        for key, limit in MAX_LENGTH.items():
            if isinstance(item.get(key), str) and len(item[key]) > limit:
                found.append(f"{where}: {key} is longer than {limit}")
        if "date" in item and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(item["date"])):
            found.append(f"{where}: date {item['date']!r} is not YYYY-MM-DD")
        if not isinstance(item.get("tags", []), list) or not all(isinstance(t, str) for t in item.get("tags", [])):
            found.append(f"{where}: tags is not a list of strings")
        for endpoint in item.get("endpoints", []):
            if not isinstance(endpoint, dict):
                found.append(f"{where}: endpoint {endpoint!r} is not an object")
                continue
            found += [f"{where}: endpoint key {k!r} is not taken" for k in sorted(set(endpoint) - ENDPOINT_KEYS)]
            host = endpoint.get("host")
            if not isinstance(host, str) or not (HOST.match(host) or _is_ip(host)):
                found.append(f"{where}: endpoint host {host!r} has an invalid format")
            protocol = endpoint.get("protocol")
            if protocol is not None and not (isinstance(protocol, str) and PROTOCOL.match(protocol)):
                found.append(f"{where}: endpoint protocol {protocol!r} has an invalid format")
            port = endpoint.get("port")
            if port is not None and not (isinstance(port, int) and not isinstance(port, bool) and 0 <= port < 65536):
                found.append(f"{where}: endpoint port {port!r} is out of range")
    return found


@pytest.fixture(scope="module")
def report() -> mailtls.Report:
    return lab_report()


@pytest.fixture(scope="module")
def document(report) -> dict[str, Any]:
    return json.loads(mailtls.to_defectdojo(report))


# -- the rules are really checked (a check that passes everything proves nothing) ----------


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda f: f.update(group="x"), "key 'group' is not allowed"),
        (lambda f: f.pop("description"), "required key 'description' missing"),
        (lambda f: f.update(severity="high"), "severity 'high'"),
        (lambda f: f.update(severity="Informational"), "severity 'Informational'"),
        (lambda f: f.update(cwe="CWE-319"), "cwe 'CWE-319' is not a int"),
        (lambda f: f["endpoints"][0].update(host="mail server"), "endpoint host 'mail server'"),
        (lambda f: f["endpoints"][0].update(port=70000), "endpoint port 70000"),
        (lambda f: f["endpoints"][0].update(protocol="s"), "endpoint protocol 's'"),
        (lambda f: f["endpoints"][0].update(userinfo="me"), "endpoint key 'userinfo' is not taken"),
        (lambda f: f.update(title="x" * 512), "title is longer than 511"),
    ],
)
def test_the_encoded_rules_reject_what_defectdojo_rejects(document, change, complaint):
    broken = json.loads(json.dumps(document))
    change(broken["findings"][0])
    assert any(complaint in v for v in violations(broken)), violations(broken)


# -- a real report passes every rule ---------------------------------------------------------


def test_every_lab_finding_and_inconclusive_port_passes_every_rule(report, document):
    assert violations(document) == []
    assert document["name"] == document["type"] == "mailtls"
    assert len(document["findings"]) == len(report.findings) + 2  # two inconclusive ports
    assert {f["severity"] for f in document["findings"]} >= {"Critical", "High", "Medium", "Low", "Info"}


def test_each_finding_names_its_service_and_carries_its_texts(report, document):
    items = {f["unique_id_from_tool"]: f for f in document["findings"]}
    for finding in report.findings:
        item = items[f"{finding.rule_id}@{finding.location}"]
        assert item["title"] == f"{finding.rule_id} {finding.title}"
        assert item["severity"] == finding.severity.value.capitalize()
        assert item["endpoints"] == [
            {"host": finding.hostname or finding.host, "protocol": finding.protocol.value, "port": finding.port}
        ]
        assert finding.summary in item["description"]
        assert item["mitigation"] == finding.remediation
        assert item["impact"] == finding.context
        assert item.get("cwe") == finding.cwe
        assert item.get("references", "") == "\n".join(finding.references)
        assert item["vuln_id_from_tool"] == finding.rule_id
        assert all(line in item["steps_to_reproduce"] for line in finding.evidence)
    named = items["MT305@localhost:993"]
    assert named["endpoints"] == [{"host": "localhost", "protocol": "imap", "port": 993}]
    assert "Address: 127.0.0.1" in named["description"]


def test_an_inconclusive_port_is_an_info_finding_that_says_so(document):
    items = {f["unique_id_from_tool"]: f for f in document["findings"]}
    cut = items["inconclusive@127.0.0.11:143"]
    assert cut["severity"] == "Info"
    assert cut["title"] == "Inconclusive: 127.0.0.11:143 could not be assessed"
    assert "tcpwrapped" in cut["description"] and "not a clean result" in cut["description"]
    assert cut["endpoints"] == [{"host": "127.0.0.11", "protocol": "tcp", "port": 143}]
    assert cut["tags"] == ["mailtls", "inconclusive"]
    # the plain host's other ports were judged as usual
    assert "MT102@127.0.0.11:110" not in items and "MT101@127.0.0.11:110" in items
    assert items["inconclusive@192.0.2.10:143"]["severity"] == "Info"


# -- identity across runs ----------------------------------------------------------------------


def _identities(document: dict[str, Any]) -> list[str]:
    return [f["unique_id_from_tool"] for f in document["findings"]]


def test_unique_ids_are_unique_within_a_file(document):
    assert [uid for uid, n in Counter(_identities(document)).items() if n > 1] == []


def test_two_runs_of_the_same_scan_give_the_same_unique_ids():
    xml = plain_with_143_cut_short()
    first = json.loads(mailtls.to_defectdojo(mailtls.assess_xml(xml)))
    again = json.loads(mailtls.to_defectdojo(mailtls.assess_xml(xml)))
    assert first == again
    # The same hosts scanned a day later, and listed in another order: the same ids, and
    # the same title and description (DefectDojo's default hash) for every finding, though
    # the evidence moved on ("9 days left" became "8 days left").
    day = 86_400
    earlier = lab_report()
    sources = [later(plain_with_143_cut_short(), day)]
    sources += [later(recorded(name).read_text(), day) for name in ("named", "weak")]
    scans = [mailtls.assess_xml(s) for s in reversed(sources)]
    next_day = defectdojo_document(
        mailtls.Report(targets=tuple(t for r in scans for t in r.targets), runs=tuple(x for r in scans for x in r.runs))
    )
    before = {f["unique_id_from_tool"]: f for f in defectdojo_document(earlier)["findings"]}
    after = {f["unique_id_from_tool"]: f for f in next_day["findings"]}
    hosts = ("127.0.0.11", "localhost", "127.0.0.15")
    assert set(after) == {uid for uid in before if uid.split("@")[1].rsplit(":", 1)[0] in hosts}
    for uid, item in after.items():
        assert (item["title"], item["description"]) == (before[uid]["title"], before[uid]["description"]), uid
    assert before["MT306@localhost:993"]["steps_to_reproduce"] != after["MT306@localhost:993"]["steps_to_reproduce"]


def test_unique_id_is_rule_host_and_port_only():
    # nothing that varies between runs (time, order, observation) goes into the key
    report = mailtls.assess_xml(recorded("named"))
    for item, finding in zip(defectdojo_document(report)["findings"], report.findings, strict=True):
        assert item["unique_id_from_tool"] == f"{finding.rule_id}@localhost:{finding.port}"


def test_a_diff_gives_resolved_findings_as_mitigated():
    old = mailtls.assess_xml(recorded("plain"))
    new = mailtls.assess_xml(plain_with_143_cut_short())
    changes = mailtls.diff(old, new)
    document = defectdojo_document(changes)
    assert violations(document) == []
    # port 143 was not judged this time: its findings are unverified, not resolved, and not in the file
    assert not changes.resolved and changes.unverified
    assert document["findings"] == []
    # the same host assessed again with its POP3 findings gone: those are resolved
    (target,) = old.targets
    kept = tuple(f for f in target.findings if f.port != 110)
    fixed = mailtls.diff(old, attrs.evolve(old, targets=(attrs.evolve(target, findings=kept),)))
    items = defectdojo_document(fixed)["findings"]
    assert fixed.resolved and len(items) == len(fixed.resolved)
    assert all(i["is_mitigated"] is True and i["active"] is False and ":110" in i["unique_id_from_tool"] for i in items)


def test_cli_writes_the_file(tmp_path):
    out = tmp_path / "mailtls.json"
    result = subprocess.run(
        [sys.executable, "-m", "mailtls", "import", str(recorded("weak")), "--format", "defectdojo", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert violations(document) == [] and len(document["findings"]) == 43
