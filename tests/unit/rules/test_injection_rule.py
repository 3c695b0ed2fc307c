"""MT106 (STARTTLS command injection) reads only the verdict of mailtls's own NSE script,
which runs by default (tests/lab/test_injection.py runs it against real servers)."""

from __future__ import annotations

import mailtls
from mailtls.protocols import INJECTION_SCRIPT, PACKAGED_SCRIPTS, SCRIPTS


def test_the_script_runs_by_default():
    assert INJECTION_SCRIPT in SCRIPTS and INJECTION_SCRIPT in PACKAGED_SCRIPTS


def test_rule_reads_only_a_vulnerable_verdict():
    from mailtls.rules.builtin.injection import starttls_command_injection

    def port(output: str) -> mailtls.PortRecord:
        return mailtls.PortRecord(
            address="192.0.2.1",
            number=143,
            state=mailtls.PortState.OPEN,
            protocol=mailtls.Protocol.IMAP,
            scripts=(mailtls.ScriptOutput(INJECTION_SCRIPT, output),),
        )

    assert len(list(starttls_command_injection(port("VULNERABLE: ... answered inside TLS: M3 OK")))) == 1
    assert list(starttls_command_injection(port("not vulnerable: discarded"))) == []
    assert list(starttls_command_injection(port("inconclusive: no answer inside TLS"))) == []
