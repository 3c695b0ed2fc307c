"""assess_domain judges each MX host once, under its MX name: the scan of its address is
not judged a second time (a rule that raises is one problem per MX host, not two).

No network: DNS answers come from a resolver that knows one zone, nmap is a fake that
answers every target with SMTP on port 25 without STARTTLS (tests/hostile/shims/valid.py),
and the addresses are from the documentation range."""

from __future__ import annotations

import types

import dns.flags
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

import mailtls
from mailtls import Observation, PortRecord, Registry, Stage

ZONE = {
    ("example.org.", "MX"): ["10 mx1.example.org.", "20 mx2.example.org."],
    ("mx1.example.org.", "A"): ["192.0.2.25"],
    ("mx2.example.org.", "A"): ["192.0.2.26"],
}


class OneZone(dns.resolver.Resolver):
    """Answers from ZONE; every other name exists without records (NODATA)."""

    def __init__(self) -> None:
        super().__init__(configure=False)
        self.nameservers = ["192.0.2.53"]  # never asked

    def resolve(self, qname, rdtype="A", *args, **kwargs):  # type: ignore[override]
        name, kind = dns.name.from_text(str(qname)).to_text(), str(rdtype)
        texts = ZONE.get((name, kind), [])
        records = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), t) for t in texts]
        return types.SimpleNamespace(rrset=records or None, response=types.SimpleNamespace(flags=dns.flags.QR))


@mailtls.rule("T500", "raises on every port", "low")
def raises(port: PortRecord):
    """Fails, so that each time it runs is a problem."""
    raise RuntimeError("rule bug")
    yield Observation(summary="never")


@pytest.fixture
def report(fake_nmap) -> mailtls.Report:
    fake_nmap("valid")
    module = types.ModuleType(__name__)
    module.raises = raises
    registry = Registry(
        [*Registry.default(plugins=False), *Registry.from_modules([module])], problems=()
    )
    return mailtls.assess_domain("example.org", resolver=OneZone(), registry=registry, timeout=5)


def test_each_mx_host_is_judged_once_under_its_name(report):
    # Then the report holds the domain and its two MX hosts, each under its MX name
    assert [t.target for t in report.targets] == ["example.org", "mx1.example.org", "mx2.example.org"]
    # and the rules ran once on each MX host's port 25: one problem per MX, one finding per rule
    failures = [(p.address, p.port) for p in report.all_problems if p.stage is Stage.RULE]
    assert failures == [("192.0.2.25", 25), ("192.0.2.26", 25)]
    assert [(f.rule_id, f.hostname) for f in report.findings if f.rule_id == "MT103"] == [
        ("MT103", "mx1.example.org"),
        ("MT103", "mx2.example.org"),
    ]
    assert all(f.domain == "example.org" for f in report.findings)
