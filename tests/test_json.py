"""Reports to JSON and back, through the one cattrs converter."""

import json

import pytest

import mailtls

from .helpers import recorded


@pytest.mark.parametrize("name", ["weak", "named", "broken"])
def test_round_trip_of_recorded_reports(name):
    report = mailtls.assess_xml(recorded(name))
    assert mailtls.from_json(mailtls.to_json(report)) == report


def test_json_is_plain_data():
    document = json.loads(mailtls.to_json(mailtls.assess_xml(recorded("weak"))))
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
        ('{"schema": 99, "report": {}}', "schema 2"),
        ('{"schema": 1, "report": {"scan": {}}}', "schema 2"),
        ('{"schema": 2, "report": {"targets": "x"}}', "not a valid mailtls report"),
        ('{"schema": 2, "report": {"targets": [], "surprise": 1}}', "not a valid mailtls report"),
        ('{"schema": 2, "report": {"targets": [{"target": "x", "outcome": "maybe"}]}}', "not a valid mailtls report"),
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
    assert len(frame) == len(report.findings)
    assert list(frame["rule_id"]) == [f.rule_id for f in report.findings]
    assert set(frame[frame.severity >= "high"]["rule_id"]) == {"MT101", "MT102", "MT104"}
    assert frame.loc[0, "protocol"] in {"pop3", "imap", "smtp"}
