"""End to end against real Dovecot and Postfix servers on loopback (the lab).

Each lab host is assessed once per session (see conftest.lab_reports)."""

from __future__ import annotations

import pytest

import lab
import mailtls
from mailtls import Protocol, Severity, TlsMode
from tests.helpers import found, recorded, rule_ids

pytestmark = pytest.mark.lab


def test_plaintext_host(lab_reports):
    # Given a host with no TLS at all and SMTP AUTH offered
    report = lab_reports["plain"]
    # Then every plaintext service is reported where it listens, and AUTH in the clear too
    assert {("MT101", 110), ("MT102", 143), ("MT103", 25), ("MT113", 25)} <= found(report)
    assert {("MT111", 110), ("MT112", 143)} <= found(report)
    assert report.all_problems == ()


def test_starttls_with_cleartext_login_host(lab_reports):
    # Given STARTTLS/STLS offered everywhere, but logins still accepted before TLS
    report = lab_reports["starttls"]
    assert {("MT111", 110), ("MT112", 143), ("MT113", 25)} <= found(report)
    assert not rule_ids(report) & {"MT101", "MT102", "MT103", "MT104"}
    for number in (25, 110, 143):
        port = report.hosts[0].port(number)
        assert port.tls_mode is TlsMode.STARTTLS and port.tls.versions and port.certificate is not None


def test_hardened_host(lab_reports):
    # Given STARTTLS with plaintext login refused, and implicit TLS on 465/993/995
    report = lab_reports["hardened"]
    serious = [f for f in report.findings if f.rule_id.startswith("MT1") and f.severity >= Severity.MEDIUM]
    assert serious == []
    host = report.hosts[0]
    assert {p.number: p.tls_mode for p in host.open_ports} == {
        25: TlsMode.STARTTLS,
        110: TlsMode.STARTTLS,
        143: TlsMode.STARTTLS,
        587: TlsMode.STARTTLS,
        465: TlsMode.IMPLICIT,
        993: TlsMode.IMPLICIT,
        995: TlsMode.IMPLICIT,
    }
    # What the implicit-TLS ports advertised was seen inside TLS, not before it.
    assert host.port(993).capabilities.before_tls is False
    assert host.port(143).capabilities.login_disabled is True


def test_records_from_a_real_scan(lab_reports):
    host = lab_reports["starttls"].hosts[0]
    assert host.address == lab.HOSTS["starttls"].address and host.status == "up"
    assert [p.protocol for p in host.ports] == [Protocol.SMTP, Protocol.POP3, Protocol.IMAP]
    cert = host.port(143).certificate
    assert cert.key_type == "rsa" and cert.key_bits == 2048 and "sha256" in cert.signature_algorithm.lower()
    assert cert.not_before < cert.not_after
    assert host.port(25).capabilities.starttls and "PLAIN" in host.port(25).capabilities.auth_mechanisms
    assert host.port(110).capabilities.user_login and host.port(110).capabilities.starttls
    assert any(c.strength for v in host.port(25).tls.versions for c in v.ciphers)
    assert host.port(25).tls.least_strength in "ABCDEF"


@pytest.mark.parametrize("name", list(lab.HOSTS))
def test_recorded_xml_gives_the_same_findings_as_live(lab_reports, name):
    from_file = mailtls.assess_xml(recorded(name))
    assert found(from_file) == found(lab_reports[name])


def test_json_round_trip_of_live_reports(lab_reports):
    for report in lab_reports.values():
        assert mailtls.from_json(mailtls.to_json(report)) == report


def test_every_finding_explains_itself(lab_reports):
    for report in lab_reports.values():
        for finding in report.findings:
            assert finding.summary and finding.context and finding.remediation and finding.group
            assert finding.host == report.hosts[0].address


def test_hostile_target_is_refused_for_real(running_lab, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(mailtls.TargetError):
        mailtls.assess(f"127.0.0.11 -oN {out}")
    assert not out.exists()


def test_a_host_with_nothing_listening(running_lab):
    # 127.0.0.2 is loopback with no server: every port closed, nothing to report, nothing failed
    report = mailtls.assess("127.0.0.2", ports=[25, 110])
    assert report.findings == () and report.all_problems == ()
    assert {p.state for p in report.hosts[0].ports} == {mailtls.PortState.CLOSED}


def test_a_host_that_runs_out_of_time_is_recorded(running_lab):
    # The odd host's ports are non-standard: only -sV (seconds per port) can tell what they
    # are, and one second leaves no time for it. (Whether nmap's own --host-timeout fires
    # within a second on a fast host depends on the machine, so that is not what is tested.)
    odd = lab.HOSTS["odd"]
    report = mailtls.assess(odd.target, ports=odd.ports, timeout=1)
    assert any(p.stage is mailtls.Stage.HOST and "timeout" in p.message for p in report.all_problems)
    (result,) = report.targets
    assert result.outcome is mailtls.Outcome.INCONCLUSIVE and report.findings == ()
    assert {p.inconclusive for p in result.host.open_ports} == {"not identified: the host timeout came before -sV"}


def test_ipv6_target_runs_nmap_in_ipv6_mode(running_lab):
    # ::1 is loopback; no lab server listens there, so every port is closed and nothing fails
    report = mailtls.assess("::1", ports=[25, 993])
    assert report.all_problems == () and report.findings == ()
    assert report.hosts[0].address == "::1" and "-6" in report.runs[0].args


def test_a_name_is_carried_into_findings(lab_reports):
    # The named host was scanned as "localhost" (resolved from /etc/hosts, no DNS query)
    report = lab_reports["named"]
    assert report.hosts[0].hostname == "localhost"
    assert {f.location for f in report.findings} == {"localhost:465", "localhost:993"}
