"""Reports for the pipeline formats' tests (DefectDojo, OCSF, SARIF): recorded lab scans,
one with a port that could not be judged, and the same scan taken again later."""

from __future__ import annotations

import re

import mailtls

from ...helpers import recorded

LABS = ("plain", "starttls", "hardened", "required", "weak", "relay", "odd", "broken", "named")

#: Port 143 of the plain lab host as nmap writes a port that accepts and drops the
#: connection: open, but nothing can be said about it.
_TCPWRAPPED = (
    '<port protocol="tcp" portid="143"><state state="open" reason="syn-ack" reason_ttl="64"/>'
    '<service name="tcpwrapped" method="probed" conf="8"/></port>'
)


def plain_with_143_cut_short() -> str:
    """The plain lab host's recorded XML, but port 143 accepted the connection and closed it."""
    xml = recorded("plain").read_text()
    cut, count = re.subn(r'<port protocol="tcp" portid="143">.*?</port>', _TCPWRAPPED, xml, flags=re.S)
    assert count == 1
    return cut


def later(xml: str, seconds: int) -> str:
    """The same scan, as if nmap had run it ``seconds`` later (every time in the XML moved)."""

    def shift(match: re.Match[str]) -> str:
        return f'{match.group(1)}="{int(match.group(2)) + seconds}"'

    return re.sub(r'\b(start|starttime|endtime|time)="(\d+)"', shift, xml)


def merged(*reports: mailtls.Report) -> mailtls.Report:
    return mailtls.Report(
        targets=tuple(t for r in reports for t in r.targets), runs=tuple(run for r in reports for run in r.runs)
    )


def lab_report() -> mailtls.Report:
    """Every recorded lab host, the plain host's port 143 cut short, and a host whose only
    port is tcpwrapped (outcome inconclusive): findings and inconclusive ports together."""
    reports = [mailtls.assess_xml(recorded(name)) for name in LABS if name != "plain"]
    reports.append(mailtls.assess_xml(plain_with_143_cut_short()))
    reports.append(mailtls.assess_xml(recorded("plain").parent / "hostile" / "tcpwrapped.xml"))
    return merged(*reports)
