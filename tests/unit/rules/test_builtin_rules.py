"""Edge cases of individual rules, on hand-built records (lab-recorded XML covers the real shapes)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import mailtls
from mailtls import (
    Capabilities,
    Certificate,
    Cipher,
    HostRecord,
    NameAttribute,
    PortRecord,
    PortState,
    Protocol,
    Registry,
    ScanRecord,
    Service,
    TlsMode,
    TlsProfile,
    TlsVersion,
)
from mailtls.rules.builtin.certificates import matches, names_of
from mailtls.rules.builtin.tls import kex_bits
from mailtls.rules.engine import evaluate

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
CN = (NameAttribute("commonName", "mail.example.org"),)


def port(number=993, protocol=Protocol.IMAP, **changes) -> PortRecord:
    base = PortRecord(
        address="192.0.2.1", number=number, state=PortState.OPEN, protocol=protocol, scanned_at=NOW
    )
    return attrs.evolve(base, **changes)


def findings(*ports: PortRecord, rule_id: str) -> list[mailtls.Finding]:
    scan = ScanRecord(hosts=(HostRecord(address="192.0.2.1", status="up", ports=ports),))
    return list(evaluate(scan, Registry.default(plugins=False).only(rule_id)).findings)


def cert(**changes) -> Certificate:
    base = Certificate(
        subject=CN,
        issuer=(NameAttribute("commonName", "Example CA"),),
        subject_alt_names=("DNS:mail.example.org", "DNS:*.mx.example.org"),
        key_type="rsa",
        key_bits=2048,
        signature_algorithm="sha256WithRSAEncryption",
        not_before=NOW - dt.timedelta(days=100),
        not_after=NOW + dt.timedelta(days=200),
    )
    return attrs.evolve(base, **changes)


@pytest.mark.parametrize(
    "kex, expected",
    [("dh 1024", ("dh", 1024)), ("dh 2048", ("dh", 2048)), ("secp256r1", ("ec", 256)), ("prime192v1", ("ec", 192)),
     ("sect163k1", ("ec", 163)), ("x25519", ("ec", 253)), ("ecdh 160", ("ec", 160)), ("rsa 2048", None), ("", None)],
)
def test_kex_bits(kex, expected):
    assert kex_bits(kex) == expected


def test_weak_kex_and_unsafe_suites():
    tls = TlsProfile(
        versions=(TlsVersion("TLSv1.2", ciphers=(Cipher("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "dh 1024", "A"),
                                               Cipher("TLS_DH_anon_WITH_AES_128_CBC_SHA", "dh 2048", "F"),
                                               Cipher("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519", "A"))),),
        least_strength="F",
    )
    p = port(tls=tls, tls_mode=TlsMode.IMPLICIT)
    assert [f.summary for f in findings(p, rule_id="MT204")] == ["port 993 uses weak key exchange: dh 1024"]
    assert "1 anonymous" in findings(p, rule_id="MT203")[0].summary
    assert findings(p, rule_id="MT202")[0].summary.endswith("graded F")
    assert findings(attrs.evolve(p, tls=attrs.evolve(tls, least_strength="B")), rule_id="MT202") == []


def test_certificate_dates_are_judged_at_scan_time():
    assert findings(port(certificate=cert()), rule_id="MT301") == []
    expired = port(certificate=cert(not_after=NOW - dt.timedelta(seconds=1)))
    assert "expired on 2026-05-31" in findings(expired, rule_id="MT301")[0].summary
    future = port(certificate=cert(not_before=NOW + dt.timedelta(days=1)))
    assert "not valid before" in findings(future, rule_id="MT301")[0].summary
    soon = port(certificate=cert(not_after=NOW + dt.timedelta(days=29)))
    assert findings(soon, rule_id="MT306") and findings(soon, rule_id="MT301") == []
    assert findings(port(certificate=cert(not_after=NOW + dt.timedelta(days=31))), rule_id="MT306") == []
    assert findings(expired, rule_id="MT306") == []


def test_self_signed_weak_key_weak_hash():
    own = port(certificate=cert(issuer=CN, key_bits=1024, signature_algorithm="sha1WithRSAEncryption"))
    for rule_id in ("MT302", "MT303", "MT304"):
        assert len(findings(own, rule_id=rule_id)) == 1, rule_id
    good = port(certificate=cert())
    assert not any(findings(good, rule_id=r) for r in ("MT302", "MT303", "MT304"))
    ec = port(certificate=cert(key_type="ec", key_bits=256, signature_algorithm="ecdsa-with-SHA256"))
    assert not findings(ec, rule_id="MT303") and not findings(ec, rule_id="MT304")
    assert findings(port(certificate=cert(signature_algorithm="ecdsa-with-SHA1")), rule_id="MT304")


def test_hostname_matching():
    c = cert()
    assert names_of(c) == ["mail.example.org", "*.mx.example.org"]
    assert matches("*.mx.example.org", "a.mx.example.org") and not matches("*.mx.example.org", "a.b.mx.example.org")
    assert not matches("*.mx.example.org", "mx.example.org")
    assert names_of(cert(subject_alt_names=())) == ["mail.example.org"]
    # Only when the scan was asked for a name
    assert findings(port(certificate=c), rule_id="MT305") == []
    assert findings(port(certificate=c, hostname="MAIL.example.org"), rule_id="MT305") == []
    found = findings(port(certificate=c, hostname="imap.example.org"), rule_id="MT305")
    assert "not for imap.example.org" in found[0].summary


def test_port_pairs():
    starttls = port(143, tls_mode=TlsMode.STARTTLS)
    implicit = port(993, tls_mode=TlsMode.IMPLICIT)
    mx = port(25, Protocol.SMTP, tls_mode=TlsMode.STARTTLS)
    assert [(f.port, f.rule_id) for f in findings(starttls, mx, rule_id="MT120")] == [(143, "MT120")]
    assert findings(starttls, implicit, rule_id="MT120") == []
    assert [f.port for f in findings(starttls, implicit, rule_id="MT121")] == [143]
    assert findings(implicit, rule_id="MT121") == []
    submission = port(587, Protocol.SMTP, tls_mode=TlsMode.STARTTLS)
    assert [f.port for f in findings(submission, rule_id="MT120")] == [587]


def test_nonstandard_port_needs_service_detection():
    probed = port(2525, Protocol.SMTP, service=Service(name="smtp", method="probed"))
    assert findings(probed, rule_id="MT403")[0].summary == "SMTP found on port 2525"
    assert findings(port(25, Protocol.SMTP, service=Service(name="smtp", method="probed")), rule_id="MT403") == []


def test_starttls_advertised_but_broken():
    caps = Capabilities(script="smtp-commands", keywords=("STARTTLS",), starttls=True)
    broken = port(25, Protocol.SMTP, capabilities=caps, tls_mode=TlsMode.NONE)
    assert findings(broken, rule_id="MT105") and not findings(broken, rule_id="MT103")
    working = attrs.evolve(broken, tls_mode=TlsMode.STARTTLS)
    assert not findings(working, rule_id="MT105")


def test_vrfy_and_open_relay_parsing():
    caps = Capabilities(
        script="smtp-commands", raw="mx, PIPELINING, VRFY, ETRN\n HELP text", keywords=("PIPELINING", "VRFY", "ETRN")
    )
    assert "VRFY" in findings(port(25, Protocol.SMTP, capabilities=caps), rule_id="MT402")[0].summary
    relay = mailtls.ScriptOutput(
        "smtp-open-relay", "Server is an open relay (16/16 tests)\n MAIL FROM:<a@b> -> RCPT TO:<c@d>"
    )
    assert findings(port(25, Protocol.SMTP, scripts=(relay,)), rule_id="MT401")
    closed = mailtls.ScriptOutput("smtp-open-relay", "Server doesn't seem to be an open relay, all tests failed")
    assert findings(port(25, Protocol.SMTP, scripts=(closed,)), rule_id="MT401") == []
