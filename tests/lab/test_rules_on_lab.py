"""Every built-in rule, on real servers: where the lab says it must fire, and where it must not.

Each expectation is checked twice: on the live lab (conftest.lab_reports, made by
``mailtls.assess``) and on the XML recorded from the same host (``assess_xml``)."""

from __future__ import annotations

import pytest

import lab
import mailtls
from mailtls import Severity
from tests.helpers import found, recorded, rule_ids

pytestmark = pytest.mark.lab

WEAK_TLS_PORTS = lab.HOSTS["weak"].ports  # every weak port speaks TLS (STARTTLS or implicit)

#: rule id -> (lab host, ports where it must fire)
FIRES = {
    "MT101": ("plain", [110]),
    "MT102": ("plain", [143]),
    "MT103": ("plain", [25]),
    "MT104": ("plain", [587]),
    "MT105": ("broken", [25, 110, 143]),
    "MT111": ("starttls", [110]),
    "MT112": ("starttls", [143]),
    "MT113": ("starttls", [25]),
    "MT120": ("required", [110, 143, 587]),
    "MT121": ("hardened", [110, 143]),
    "MT201": ("weak", WEAK_TLS_PORTS),
    "MT202": ("weak", WEAK_TLS_PORTS),
    "MT203": ("weak", [25]),
    "MT204": ("weak", [25, 465]),
    "MT301": ("weak", WEAK_TLS_PORTS),
    "MT302": ("weak", WEAK_TLS_PORTS),
    "MT303": ("weak", WEAK_TLS_PORTS),
    "MT304": ("weak", WEAK_TLS_PORTS),
    "MT305": ("named", [993]),
    "MT306": ("named", [993]),
    "MT401": ("relay", [25]),
    "MT402": ("plain", [25, 587]),
    "MT403": ("odd", [1110, 1143, 2525]),
}


#: Rules the main lab hosts cannot show, and the test module that shows each on its own servers.
ELSEWHERE = {
    "MT106": "tests/lab/test_injection.py (an injectable STARTTLS server)",
    **{f"MT50{i}": "tests/lab/test_domain.py (the DNS lab's zones)" for i in range(1, 10)},
}


def test_every_builtin_rule_is_covered():
    assert set(FIRES) | set(ELSEWHERE) == {r.id for r in mailtls.Registry.default(plugins=False)}
    assert not set(FIRES) & set(ELSEWHERE)


@pytest.mark.parametrize("rule_id", sorted(FIRES))
def test_rule_fires_exactly_where_expected_live(lab_reports, rule_id):
    name, ports = FIRES[rule_id]
    assert sorted(f.port for f in lab_reports[name].by_rule(rule_id)) == sorted(ports)


@pytest.mark.parametrize("rule_id", sorted(FIRES))
def test_rule_fires_exactly_where_expected_recorded(rule_id):
    name, ports = FIRES[rule_id]
    assert sorted(f.port for f in mailtls.assess_xml(recorded(name)).by_rule(rule_id)) == sorted(ports)


def test_nonstandard_ports_are_recognised_by_service_detection(lab_reports):
    # Given mail services on 1110, 1143 and 2525 only
    report = lab_reports["odd"]
    # Then the plaintext rules fire there, recognising the protocol from -sV, plus MT403
    assert {("MT101", 1110), ("MT102", 1143), ("MT103", 2525)} <= found(report)
    host = report.hosts[0]
    assert all(p.service.method == "probed" for p in host.open_ports)


def test_starttls_required_everywhere(lab_reports):
    ids = rule_ids(lab_reports["required"])
    assert "MT120" in ids and not {i for i in ids if i[:4] in ("MT10", "MT11")}


def test_port_pair_findings_stay_below_medium(lab_reports):
    for report in lab_reports.values():
        for finding in report.by_rule("MT120") + report.by_rule("MT121"):
            assert finding.severity < Severity.MEDIUM


def test_open_relay_only_when_asked(lab_reports, running_lab):
    relay = lab.HOSTS["relay"]
    assert lab_reports["relay"].by_rule("MT401")  # made with open_relay=True
    default = mailtls.assess(relay.target, ports=relay.ports)
    assert default.by_rule("MT401") == ()
    # The relay test (which sends mail transactions) did not even run
    assert default.hosts[0].port(25).script("smtp-open-relay") is None
    # A server that refuses relaying is not reported, even when asked
    plain = mailtls.assess(lab.HOSTS["plain"].target, ports=[25], open_relay=True)
    assert plain.hosts[0].port(25).script("smtp-open-relay") is not None and plain.by_rule("MT401") == ()


def test_hostname_rule_needs_a_name(running_lab):
    named = lab.HOSTS["named"]
    by_address = mailtls.assess(named.address, ports=named.ports)
    assert by_address.by_rule("MT305") == () and by_address.by_rule("MT306")
    assert by_address.hosts[0].hostname is None


def test_broken_starttls_is_not_called_plaintext(lab_reports):
    ids = rule_ids(lab_reports["broken"])
    assert "MT105" in ids and not ids & {"MT101", "MT102", "MT103"}


def test_port_25_context_is_not_the_pop3_context(lab_reports):
    smtp = lab_reports["plain"].by_rule("MT103")[0]
    pop3 = lab_reports["plain"].by_rule("MT101")[0]
    assert "receive" in smtp.context or "deliver" in smtp.context
    assert smtp.context != pop3.context and "995" in pop3.remediation
