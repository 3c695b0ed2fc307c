"""Reports to JSON and back, through the one cattrs converter, against the shipped JSON Schema."""

import json

import attrs
import jsonschema
import pytest

import mailtls
from mailtls.output import _schema
from mailtls.output.json import SCHEMA_VERSION, TEXT_FIELDS, schema_path
from tests.helpers import DATA, found, recorded

NAMES = ["plain", "starttls", "hardened", "required", "weak", "relay", "odd", "broken", "named"]


@pytest.fixture(scope="module")
def schema():
    document = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_of_recorded_reports(name, schema):
    report = mailtls.assess_xml(recorded(name))
    text = mailtls.to_json(report)
    jsonschema.validate(json.loads(text), schema)
    assert mailtls.from_json(text) == report


def test_the_shipped_schema_is_the_one_the_records_give():
    # Regenerate with: python -m mailtls.output._schema > mailtls/output/report.schema.json
    assert json.loads(schema_path().read_text()) == _schema.schema()


def test_rule_texts_are_stored_once_per_document():
    report = mailtls.assess_xml(recorded("weak"))
    document = json.loads(mailtls.to_json(report))
    rules = document["rules"]
    assert set(rules) == {f.rule_id for f in report.findings}
    (target,) = document["report"]["targets"]
    assert len(target["findings"]) == len(report.findings) > len(rules)
    for finding in target["findings"]:
        assert not set(finding) & set(TEXT_FIELDS)  # everything from the rule is in "rules"
    # Each text appears as often as rules carry it (some rules share a context), not per finding.
    for rule_id, entry in rules.items():
        sharing = sum(1 for other in rules.values() if other["remediation"] == entry["remediation"])
        assert mailtls.to_json(report).count(json.dumps(entry["remediation"])) == sharing, rule_id


def test_a_finding_whose_texts_differ_from_its_rule_keeps_them(schema):
    report = mailtls.assess_xml(recorded("plain"))
    (target,) = report.targets
    first = target.findings[0]
    odd = attrs.evolve(first, rule=attrs.evolve(first.rule, remediation="a hand-written fix", references=()))
    changed = attrs.evolve(report, targets=(attrs.evolve(target, findings=(*target.findings, odd)),))
    text = mailtls.to_json(changed)
    jsonschema.validate(json.loads(text), schema)
    assert mailtls.from_json(text) == changed


def test_json_is_smaller_than_one_copy_of_the_rule_texts_per_finding():
    # Given the same document with its rule's texts copied into every finding (as schema 2 had
    # them: 14,998 bytes compact for this host then, 12,736 with the catalogue of schema 3)
    text = mailtls.to_json(mailtls.assess_xml(recorded("plain")), indent=None)
    document = json.loads(text)
    for target in document["report"]["targets"]:
        target["findings"] = [
            {**f, **{k: v for k, v in document["rules"][f["rule_id"]].items() if k != "id"}} for f in target["findings"]
        ]
    copies = json.dumps({**document, "rules": {}})
    # Then the catalogue is the smaller of the two
    assert len(text) < len(copies)


def test_json_is_plain_data():
    document = json.loads(mailtls.to_json(mailtls.assess_xml(recorded("weak"))))
    assert document["schema"] == SCHEMA_VERSION
    (target,) = document["report"]["targets"]
    assert target["outcome"] == "assessed"
    finding = target["findings"][0]
    assert finding["severity"] in {"critical", "high", "medium", "low", "info"}
    port = target["host"]["ports"][0]
    assert port["tls_mode"] == "starttls" and port["certificate"]["not_after"].startswith("2020-01-01")


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ("[]", "not a mailtls report"),
        ('{"schema": 99, "report": {}}', "schema 3"),
        ('{"schema": 2, "report": {"targets": []}}', "schema 3"),
        ('{"schema": 3, "report": {"targets": "x"}}', "not a valid mailtls report"),
        ('{"schema": 3, "report": {"targets": [], "surprise": 1}}', "not a valid mailtls report"),
        ('{"schema": 3, "report": {"targets": [{"target": "x", "outcome": "maybe"}]}}', "not a valid mailtls report"),
        ('{"schema": 3, "rules": [], "report": {"targets": []}}', "'rules' must be an object"),
        ('{"schema": 3, "rules": {}, "diff": {}}', "a diff of two reports"),
        (
            '{"schema": 3, "rules": {}, "report": {"targets": [{"target": "x", "outcome": "assessed", "findings": '
            '[{"rule_id": "MT101", "severity": "high", "host": "x", "port": 110, "protocol": "pop3", '
            '"summary": "s"}]}]}}',
            "points at no complete entry",
        ),
    ],
)
def test_bad_json_raises_serialization_error(text, message):
    with pytest.raises(mailtls.SerializationError, match=message):
        mailtls.from_json(text)
    with pytest.raises(mailtls.MailTlsError):
        mailtls.from_json(text)


def test_to_json_refuses_other_objects():
    with pytest.raises(mailtls.SerializationError):
        mailtls.to_json({"findings": []})


def test_findings_as_a_dataframe():
    report = mailtls.assess_xml(recorded("plain"))
    frame = report.to_dataframe()
    assert list(frame.columns) == [c.name for c in mailtls.FINDING_COLUMNS]
    assert len(frame) == len(report.findings)
    assert list(frame["rule_id"]) == [f.rule_id for f in report.findings]
    assert set(frame[frame.severity >= "high"]["rule_id"]) == {"MT101", "MT102", "MT104"}
    assert frame.loc[0, "protocol"] in {"pop3", "imap", "smtp"}
    assert frame["port"].dtype == "Int64"


def test_a_report_saved_with_schema_3_is_still_read(schema):
    # Given a report of the plaintext lab host saved by mailtls with schema 3, before the
    # catalogue held rule descriptions (tests/data/README.md)
    old = mailtls.from_json((DATA / "report-schema-3.json").read_text())
    # Then it is read whole: every target, host record and finding, with its rule's texts
    assert found(old) == {("MT101", 110), ("MT102", 143), ("MT103", 25), ("MT104", 587), ("MT111", 110),
                          ("MT112", 143), ("MT113", 25), ("MT113", 587), ("MT402", 25), ("MT402", 587)}
    assert [p.number for p in old.hosts[0].ports] == [25, 110, 143, 587]
    assert old.hosts[0].status_reason == "user-set" and {p.state_reason for p in old.hosts[0].ports} == {"syn-ack"}
    registry = mailtls.Registry.default()
    for finding in old.findings:
        assert finding.rule == attrs.evolve(registry[finding.rule_id].texts, description="")
    # and written again with today's schema
    text = mailtls.to_json(old)
    jsonschema.validate(json.loads(text), schema)
    assert json.loads(text)["schema"] == SCHEMA_VERSION and mailtls.from_json(text) == old


def test_a_domain_saved_with_schema_3_keeps_what_its_enums_know():
    # Given a schema 3 domain target: an MX host whose trust was never checked (""), and a
    # policy whose mode RFC 8461 does not know
    mx = [{"name": "mx.example.org", "trust": ""}, {"name": "b", "trust": "unknown"}]
    domain = {"domain": "example.org", "mx": mx,
              "mta_sts": {"record": "v=STSv1; id=1", "policy": {"mode": "strict", "text": "mode: strict"}}}
    text = json.dumps({"schema": 3, "rules": {}, "report": {"targets": [
        {"target": "example.org", "outcome": "assessed", "domain": domain}]}})
    # Then they are read as no trust and no mode; the rest as it was
    record = mailtls.from_json(text).target("example.org").domain
    assert [mx.trust for mx in record.mx] == [None, mailtls.model.domain.Trust.UNKNOWN]
    assert record.mta_sts.policy.mode is None and record.mta_sts.policy.text == "mode: strict"
