"""mailtls.assess against servers that misbehave: a failed exchange is never a verdict.

Every server here is a small Python program on 127.60.0.x (tests/hostile/servers.py)
that refuses, resets, stays silent, floods, or advertises what it does not do. The
rule under test: a port whose exchange failed is *inconclusive* (on the
port record and as a ``Stage.EXCHANGE`` problem naming what nmap saw) and is never
judged "no TLS" / "no STARTTLS"; capability keywords count only as whole keywords in
their place, never as words of greeting text.

All servers are scanned by one ``assess_many`` call (the hosts of a batch run side by
side in one nmap), so the module costs about one host timeout, not one per server.
"""

from __future__ import annotations

import pytest

import mailtls
from mailtls import Outcome, Stage
from tests.hostile import servers

#: address -> (port, behaviour). One address per server: 127.60.0.0/16 is ours.
SERVERS = {
    "busy": ("127.60.0.1", 25, servers.smtp_busy),
    "no-service": ("127.60.0.2", 25, servers.smtp_no_service),
    "starttls-refused": ("127.60.0.3", 25, servers.smtp_starttls_refused),
    "starttls-garbage": ("127.60.0.4", 25, servers.smtp_starttls_garbage),
    "starttls-in-greeting": ("127.60.0.5", 25, servers.smtp_starttls_in_greeting),
    "starttlsx": ("127.60.0.6", 25, servers.smtp_starttlsx),
    "pop3-err": ("127.60.0.7", 110, servers.pop3_err),
    "pop3-stls-fake": ("127.60.0.8", 110, servers.pop3_stls_fake),
    "imap-no": ("127.60.0.9", 143, servers.imap_no),
    "imap-bad": ("127.60.0.10", 143, servers.imap_bad),
    "silent": ("127.60.0.11", 25, servers.silent),
    "reset": ("127.60.0.12", 25, servers.reset),
    "huge-banner": ("127.60.0.13", 25, servers.huge_banner),
}
#: Seconds per host: enough for every chatty server's two passes, and the silent ones' bound.
TIMEOUT = 20

#: Verdicts that mean "this port offers no TLS / no upgrade": never from a failed exchange.
NO_TLS_RULES = {"MT101", "MT102", "MT103", "MT104"}


@pytest.fixture(scope="module")
def hostile_server():
    start, stack = servers.server_factory()
    with stack:
        yield start


@pytest.fixture(scope="module")
def started(hostile_server) -> dict[str, servers.Server]:
    return {name: hostile_server(address, port, behaviour) for name, (address, port, behaviour) in SERVERS.items()}


@pytest.fixture(scope="module")
def report(started) -> mailtls.Report:
    addresses = [address for address, _, _ in SERVERS.values()]
    # One batch per server, all at once: each host then has its own nmap and its own deadline.
    return mailtls.assess_many(addresses, ports=[25, 110, 143], timeout=TIMEOUT, concurrency=len(addresses))


def result(report: mailtls.Report, name: str) -> mailtls.TargetResult:
    return report.target(SERVERS[name][0])


def rule_ids(target: mailtls.TargetResult) -> set[str]:
    return {f.rule_id for f in target.findings}


def exchange_problems(target: mailtls.TargetResult) -> list[str]:
    port = SERVERS_BY_ADDRESS[target.target][1]
    return [p.message for p in target.problems if p.stage is Stage.EXCHANGE and p.port == port]


SERVERS_BY_ADDRESS = {address: (name, port) for name, (address, port, _) in SERVERS.items()}


# --- failed exchanges: inconclusive, never judged ---------------------------------

FAILED = {
    # name: what nmap saw, as it must appear in the problem (None: any reason will do)
    "busy": "421 4.3.2 try later",
    "no-service": "554",
    "pop3-err": None,
    "imap-no": None,
    "imap-bad": None,
    "reset": None,
    "silent": None,
    "huge-banner": None,
}


@pytest.mark.parametrize("name", sorted(FAILED))
def test_failed_exchange_is_never_a_verdict(report, name):
    target = result(report, name)
    port_number = SERVERS[name][1]
    # Then: no finding at all, and certainly no "no TLS"/"no STARTTLS"
    assert target.findings == ()
    assert target.outcome is not Outcome.ASSESSED, target.reason
    # and the port, where nmap reported it open, is marked inconclusive with its reason
    port = target.host.port(port_number) if target.host is not None else None
    if port is not None and port.is_open:
        assert port.inconclusive, port
        assert not port.assessable
    # and the report says the target could not be judged, with why
    assert target.problems, target
    assert not report.complete


@pytest.mark.parametrize("name", [n for n, seen in FAILED.items() if seen is not None])
def test_refusal_is_named_in_an_exchange_problem(report, name):
    target = result(report, name)
    messages = exchange_problems(target)
    assert any(FAILED[name] in m for m in messages), target.problems
    assert target.host is not None and FAILED[name] in target.host.port(SERVERS[name][1]).inconclusive


def test_busy_smtp_server_is_inconclusive_not_mt103(report):
    # Given a server that greets "421 4.3.2 try later" and hangs up (rate limiting, greylisting)
    target = result(report, "busy")
    # Then the target's outcome is INCONCLUSIVE, in words that quote the server
    assert target.outcome is Outcome.INCONCLUSIVE
    assert "421" in target.reason
    assert "MT103" not in rule_ids(target)
    # and the problem is reported once, not once per pass
    assert len(exchange_problems(target)) == 1


def test_reset_port_is_inconclusive(report):
    target = result(report, "reset")
    assert target.outcome is Outcome.INCONCLUSIVE
    assert exchange_problems(target)


@pytest.mark.parametrize("name", ["pop3-err", "imap-no", "imap-bad"])
def test_error_to_every_command_is_an_exchange_problem(report, name):
    target = result(report, name)
    assert exchange_problems(target), target.problems
    assert not (rule_ids(target) & NO_TLS_RULES)


# --- advertised but not delivered: a real finding, the right one -------------------


@pytest.mark.parametrize("name", ["starttls-refused", "starttls-garbage"])
def test_starttls_advertised_then_refused_is_mt105_not_mt103(report, name):
    # Given STARTTLS in EHLO, then 454 (or "220 go ahead" and garbage instead of a ServerHello)
    target = result(report, name)
    # Then the server is judged on what it advertised and failed to deliver
    assert target.outcome is Outcome.ASSESSED
    assert rule_ids(target) == {"MT105"}
    port = target.host.port(25)
    assert port.capabilities.starttls and port.tls_mode is mailtls.TlsMode.NONE


@pytest.mark.parametrize("name", ["starttls-in-greeting", "starttlsx"])
def test_starttls_word_that_is_not_the_keyword(report, name):
    # Given "250-mx.example Hello, STARTTLS" (the word in the greeting's free text), or a
    # keyword STARTTLSX: neither advertises STARTTLS
    target = result(report, name)
    port = target.host.port(25)
    # Then mailtls-ehlo's exact lines were read (smtp-commands joins them with ", ")
    assert port.capabilities.script == "mailtls-ehlo"
    assert "STARTTLS" not in port.capabilities.keywords
    assert port.capabilities.starttls is False
    # and the verdict is "no STARTTLS", not "STARTTLS broken"
    assert rule_ids(target) == {"MT103"}


def test_greeting_text_is_kept_out_of_keywords(report):
    port = result(report, "starttls-in-greeting").host.port(25)
    assert port.capabilities.keywords == ("PIPELINING", "8BITMIME")
    # smtp-commands ran as well, and its output (greeting and keywords run together) is kept
    assert "mx.example Hello, STARTTLS, PIPELINING" in port.script("smtp-commands").output


def test_pop3_stls_with_an_argument_is_not_stls(report):
    # Given CAPA listing "STLS fake" (STLS takes no argument, RFC 2595) and STLS refused
    target = result(report, "pop3-stls-fake")
    port = target.host.port(110)
    assert port.capabilities.starttls is False
    assert "MT101" in rule_ids(target) and "MT105" not in rule_ids(target)


def test_every_server_was_contacted(report, started):
    # Guard against a vacuous pass: every target is in the report, and nmap really talked
    # to every server (a server nobody reached would make every "no finding" above hollow)
    assert {t.target for t in report.targets} == {address for address, _, _ in SERVERS.values()}
    assert {name: server.connections > 0 for name, server in started.items()} == dict.fromkeys(SERVERS, True)
