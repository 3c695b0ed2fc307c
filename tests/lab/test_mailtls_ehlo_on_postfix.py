"""mailtls's own EHLO script (mailtls/nse/mailtls-ehlo.nse) against real Postfix: where the
greeting is plain, it reads the same keywords as nmap's smtp-commands."""

from __future__ import annotations

import pytest

import mailtls


@pytest.mark.lab
@pytest.mark.parametrize("name", ["plain", "starttls", "hardened"])
def test_mailtls_ehlo_agrees_with_smtp_commands_on_postfix(lab_reports, name):
    # Given Postfix, whose EHLO greeting is just its name: both scripts must read the same keywords
    from mailtls.nmapxml.capabilities import capabilities

    checked = 0
    for port in lab_reports[name].hosts[0].ports:
        if port.protocol is not mailtls.Protocol.SMTP or not port.assessable:
            continue
        assert port.capabilities.script == "mailtls-ehlo"
        legacy = capabilities(
            "smtp-commands",
            port.script("smtp-commands").output,
            mailtls.Protocol.SMTP,
            before_tls=port.capabilities.before_tls,
        )
        assert port.capabilities.keywords == legacy.keywords, port.number
        assert port.capabilities.starttls == legacy.starttls
        checked += 1
    assert checked, f"no SMTP port read on lab host {name}"
