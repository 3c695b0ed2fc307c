"""A mail domain's records read without a network: MTA-STS and TLS-RPT syntax, and domain
names refused before anything is sent."""

from __future__ import annotations

import dns.resolver
import pytest

import mailtls
from mailtls.domain import mtasts, tlsrpt


@pytest.mark.parametrize(
    "bad", ["", "localhost", "-x.example", "a b.example", "x" * 64 + ".example", "127.0.0.1 -oN x"]
)
def test_bad_domain_names_are_refused_before_anything_is_sent(bad):
    with pytest.raises(mailtls.TargetError):
        mailtls.assess_domain(bad, resolver=dns.resolver.Resolver(configure=False))


def test_policy_syntax():
    good = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
    policy, error = mtasts.parse_policy(good)
    assert error == "" and policy.mx == ("mail.example.org", "*.example.net") and policy.max_age == 604800
    for text, complaint in [
        ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "version"),
        ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "mode"),
        ("version: STSv1\nmode: enforce\nmx: a.example\n", "max_age"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "max_age"),
        ("version: STSv1\nmode: testing\nmax_age: 86400\n", "no mx"),
        ("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 86400\n", "pattern"),
        ("<html>not a policy</html>", "key: value"),
    ]:
        assert complaint in mtasts.parse_policy(text)[1]
    assert mtasts.parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")[1] == ""


def test_mta_sts_and_tls_rpt_records():
    assert mtasts.parse_record(["v=spf1 -all"]) == (None, "", "")
    assert mtasts.parse_record(["v=STSv1; id=abc123;"]) == ("v=STSv1; id=abc123;", "abc123", "")
    assert "id" in mtasts.parse_record(["v=STSv1; id=not-valid!;"])[2]
    assert "2 v=STSv1" in mtasts.parse_record(["v=STSv1; id=a", "v=STSv1; id=b"])[2]
    assert tlsrpt.parse_record(["v=TLSRPTv1; rua=mailto:a@example.org,https://r.example/"]).rua == (
        "mailto:a@example.org",
        "https://r.example/",
    )
    assert "no rua" in tlsrpt.parse_record(["v=TLSRPTv1;"]).error
    assert "neither" in tlsrpt.parse_record(["v=TLSRPTv1; rua=ftp://x"]).error
    assert tlsrpt.parse_record([]).record is None
