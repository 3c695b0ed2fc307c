"""assess_domain on the domain lab (lab/dnslab): real DNSSEC, a real MTA-STS policy server,
real Postfix MX hosts, all on 127.53.0.0/16. Every DNS question goes to the lab's own
resolvers; the policy server's certificate is checked against the lab CA.

The expected MT5xx findings of each lab zone are declared with the zone
(lab/dnslab/zones.py) and compared as full sets."""

from __future__ import annotations

import dns.flags
import dns.resolver
import pytest

import mailtls
from lab.dnslab.zones import AUTHORITATIVE, ZONES, zone_by_label

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def zone_reports(domain_lab) -> dict[str, mailtls.Report]:
    return {
        z.label: mailtls.assess_domain(z.name, resolver=domain_lab.resolver(), ca_file=domain_lab.ca_file)
        for z in ZONES
    }


def mt5(report: mailtls.Report) -> set[tuple[str, str]]:
    """(rule id, the MX name or the domain) of every MT5xx finding."""
    return {(f.rule_id, f.hostname or f.host) for f in report.findings if f.rule_id.startswith("MT5")}


@pytest.mark.parametrize("label", [z.label for z in ZONES])
def test_each_zone_reports_exactly_its_expected_findings(zone_reports, domain_lab, label):
    zone = zone_by_label(label)
    report = zone_reports[label]
    assert mt5(report) == set(zone.expected), domain_lab.logs()
    # Every finding, MX port findings included, names the domain.
    assert all(f.domain == zone.name for f in report.findings)
    # Only the zone meant to be inconclusive has problems.
    assert bool(report.all_problems) == zone.inconclusive, [p.message for p in report.all_problems]


def test_the_domain_record_holds_what_dns_and_the_policy_said(zone_reports):
    record = zone_reports["enforce"].target("enforce.mailtls.test").domain
    assert record.mta_sts.policy.mode == "enforce" and record.mta_sts.policy.mx == ("*.enforce.mailtls.test",)
    assert record.mta_sts.id == "20261130T000000"
    assert record.tls_rpt.rua == ("mailto:tls-reports@enforce.mailtls.test",)
    (mx,) = record.mx
    assert (mx.name, mx.addresses, mx.trust) == ("mx1.enforce.mailtls.test", ("127.53.1.1",), "trusted")
    assert mx.dane.validated and [str(r)[:6] for r in mx.dane.records] == ["3 1 1 "]
    assert mx.certificate is not None and mx.certificate.pem.startswith("-----BEGIN CERTIFICATE-----")


def test_mx_hosts_are_scanned_by_address_and_reported_by_name(zone_reports):
    report = zone_reports["testing"]
    assert [t.target for t in report.targets] == [
        "testing.mailtls.test",
        "mx1.testing.mailtls.test",
        "mx2.testing.mailtls.test",
    ]
    # nmap was given the address (never a lab name: it would ask the system's resolver)...
    assert [t.host.address for t in report.targets[1:]] == ["127.53.2.1", "127.53.2.2"]
    # ...on port 25 only, and the name checks use the MX name: mx2's certificate is for another name.
    assert {p.number for t in report.targets[1:] for p in t.host.ports} == {25}
    assert {(f.rule_id, f.location) for f in report.findings if not f.rule_id.startswith("MT5")} == {
        ("MT305", "mx2.testing.mailtls.test:25")
    }


def test_implicit_mx_and_null_mx(zone_reports):
    nomx = zone_reports["nomx"].target("nomx.mailtls.test").domain
    assert [(m.name, m.implicit, m.addresses) for m in nomx.mx] == [("nomx.mailtls.test", True, ("127.53.8.1",))]
    nullmx = zone_reports["nullmx"]
    assert nullmx.target("nullmx.mailtls.test").domain.null_mx
    assert len(nullmx.targets) == 1 and nullmx.runs == ()  # nothing to scan


def test_unreachable_policy_host_is_inconclusive_with_the_reason(zone_reports):
    report = zone_reports["unreachable"]
    (problem,) = report.all_problems
    assert "Connection refused" in problem.message and "unreachable.mailtls.test" in problem.message
    sts = report.target("unreachable.mailtls.test").domain.mta_sts
    assert sts.record and sts.inconclusive and not sts.error
    # MT501 and MT503 depend on the policy, which could not be read: not judged.
    assert mt5(report) == set()


def test_redirect_is_not_followed(zone_reports):
    (finding,) = zone_reports["badpolicy"].by_rule("MT503")
    assert "redirect" in finding.summary and "302" in finding.summary


def test_policy_certificate_is_verified_against_the_given_ca_only(domain_lab):
    # Given no ca_file, the default trust store does not know the lab CA
    report = mailtls.assess_domain("enforce.mailtls.test", resolver=domain_lab.resolver())
    # Then the policy cannot be used (as a sender would find), which is a finding, not a problem
    (finding,) = report.by_rule("MT503")
    assert "certificate does not verify" in finding.summary
    assert ("MT501", "enforce.mailtls.test") not in mt5(report)  # DANE still protects the domain
    # And the MX certificate's issuer is unknown to that store: not judged untrusted
    assert report.target("enforce.mailtls.test").domain.mx[0].trust == "unknown"


def test_the_ad_bit_comes_from_the_resolver(domain_lab):
    # Given the authoritative server itself as "resolver": same records, but it validates nothing
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.lifetime = [AUTHORITATIVE], 5
    report = mailtls.assess_domain("enforce.mailtls.test", resolver=resolver, ca_file=domain_lab.ca_file)
    # Then the TLSA records are unvalidated; MTA-STS still protects the domain (no MT501)
    assert mt5(report) == {("MT506", "mx1.enforce.mailtls.test")}


def test_the_callers_resolver_is_not_changed(domain_lab):
    resolver = domain_lab.resolver()
    before = (resolver.flags, list(resolver.nameservers), resolver.port)
    mailtls.assess_domain("nopolicy.mailtls.test", resolver=resolver, ca_file=domain_lab.ca_file)
    assert (resolver.flags, list(resolver.nameservers), resolver.port) == before


def test_a_resolver_that_does_not_answer_gives_a_problem_not_findings(domain_lab):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.lifetime = ["127.53.0.250"], 1.0  # nothing listens there
    report = mailtls.assess_domain("enforce.mailtls.test", resolver=resolver, ca_file=domain_lab.ca_file)
    assert report.findings == ()
    (target,) = report.targets
    assert target.outcome is mailtls.Outcome.INCONCLUSIVE and "MX lookup failed" in target.reason
    assert "did not answer in time" in report.all_problems[0].message


def test_a_domain_that_does_not_exist(domain_lab):
    report = mailtls.assess_domain("nosuch.mailtls.test", resolver=domain_lab.resolver())
    assert report.targets[0].outcome is mailtls.Outcome.UNRESOLVED and report.findings == ()


def test_domain_reports_round_trip_through_json(zone_reports):
    for report in zone_reports.values():
        assert mailtls.from_json(mailtls.to_json(report)) == report


def test_the_command_line_assesses_a_domain(domain_lab, capsys):
    # mailtls scan --domain, with the lab's validating resolver and CA
    from lab.dnslab.zones import RESOLVER
    from mailtls.cli import main

    zone = zone_by_label("testing")
    code = main(["scan", "--domain", zone.name, "--resolver", f"{RESOLVER}:53", "--ca-file", str(domain_lab.ca_file),
                 "--format", "json"])
    report = mailtls.from_json(capsys.readouterr().out)
    assert code == 0
    assert mt5(report) == set(zone.expected)
    assert main(["scan", "--domain", zone.name, "--resolver", "not-an-address"]) == 2
    assert "--resolver takes an IP address" in capsys.readouterr().err
