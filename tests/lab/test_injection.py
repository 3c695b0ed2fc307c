"""STARTTLS command injection (MT106, mailtls/nse/mailtls-starttls-injection.nse): the
deliberately injectable lab server (lab/injectable.py) is flagged on SMTP, IMAP and POP3;
the lab's real Postfix and Dovecot, which throw pipelined plaintext away, are not."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mailtls
from lab import injectable
from lab.dnslab.pki import LabCa
from mailtls.protocols import INJECTION_SCRIPT
from tests.helpers import machine_lock

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def injectable_server(tmp_path_factory):
    with machine_lock("/tmp/mailtls-dnslab.lock"):  # its address belongs to the domain lab
        crt, key, _ = LabCa(tmp_path_factory.mktemp("injectable-ca")).issue("injectable", [injectable.NAME])
        server = subprocess.Popen(
            [sys.executable, "-m", "lab.injectable", str(crt), str(key)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert server.stdout.readline().strip() == "ready"
            yield injectable.ADDRESS
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_injectable_server_is_flagged_on_every_protocol(injectable_server):
    report = mailtls.assess(injectable_server, ports=[25, 110, 143])
    assert {(f.rule_id, f.port) for f in report.findings if f.rule_id == "MT106"} == {
        ("MT106", 25),
        ("MT106", 110),
        ("MT106", 143),
    }
    (smtp,) = [f for f in report.by_rule("MT106") if f.port == 25]
    assert smtp.severity is mailtls.Severity.HIGH and "CVE-2011-0411" in smtp.references
    assert "250" in smtp.evidence[0]  # the NOOP's answer, read inside TLS


def test_postfix_and_dovecot_are_not_flagged(lab_reports):
    assert [f.location for r in lab_reports.values() for f in r.by_rule("MT106")] == []


@pytest.mark.parametrize("host", ["starttls", "hardened", "required", "weak"])
def test_the_test_really_ran_on_every_starttls_port(lab_reports, host):
    # Not flagged must mean "tested and clean", not "never tested".
    for port in lab_reports[host].hosts[0].ports:
        if port.is_open and port.tls_mode is mailtls.TlsMode.STARTTLS:
            script = port.script(INJECTION_SCRIPT)
            assert script is not None and script.output.startswith("not vulnerable:"), (port.number, script)


def test_plaintext_and_implicit_tls_ports_are_left_alone(lab_reports):
    for port in lab_reports["plain"].hosts[0].ports + lab_reports["hardened"].hosts[0].ports:
        if port.tls_mode is not mailtls.TlsMode.STARTTLS:
            assert port.script(INJECTION_SCRIPT) is None, port.number


def test_broken_tls_is_inconclusive_not_clean(lab_reports):
    outputs = [p.script(INJECTION_SCRIPT) for p in lab_reports["broken"].hosts[0].open_ports]
    assert outputs and all(o is not None and o.output.startswith("inconclusive:") for o in outputs)
    assert lab_reports["broken"].by_rule("MT106") == ()
