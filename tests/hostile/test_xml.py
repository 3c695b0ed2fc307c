"""The XML reader against input nobody should trust.

- documents that try the parser: entities, external references, truncation, garbage
  script output, documents that are not nmap's (built here, from the documentation
  ranges: these files are never scanned);
- crafted nmap XML (tests/data/hostile/, described in its README): each fault becomes
  a ``Problem`` naming the element, the faulty part is not judged;
- XML too large to hold (generated while read): linear time, bounded memory.

Nothing but ``MailTlsError`` is ever raised."""


from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import mailtls
from mailtls import Outcome, Stage
from tests.helpers import HOSTILE_DATA, ROOT


def read(name: str) -> mailtls.Report:
    return mailtls.assess_xml(HOSTILE_DATA / name)


def parse_problems(report: mailtls.Report) -> list[str]:
    return [p.message for p in report.all_problems if p.stage is Stage.PARSE]


@pytest.mark.parametrize("portid", ["abc", "0", "-1", "70000", ""])
def test_port_number_that_is_not_one_is_named_and_skipped(portid):
    report = read("bad-portids.xml")
    assert any(f"portid {portid!r}" in m for m in parse_problems(report)), parse_problems(report)
    # None of them is judged, none becomes port 0 (what "abc" became before)
    assert report.findings == ()
    assert report.hosts[0].ports == ()
    assert not report.complete


def test_address_that_is_not_an_ip_is_skipped():
    report = read("bad-address.xml")
    assert report.hosts == () and report.findings == ()
    assert any("not an IP address" in m and "rm -rf" in m for m in parse_problems(report))
    # it reaches SARIF only as the text of that problem, never as a result or a location
    sarif = json.loads(mailtls.to_sarif(report))
    assert all(run["results"] == [] for run in sarif["runs"])
    assert "rm -rf" not in json.dumps([run["results"] for run in sarif["runs"]])


def test_duplicate_port_is_read_once():
    report = read("duplicate-port.xml")
    assert len(report.hosts[0].ports) == 1
    assert sorted(f.rule_id for f in report.findings) == ["MT101", "MT111"]  # once each, not twice
    assert any("appears twice" in m for m in parse_problems(report))


def test_udp_port_25_is_not_judged_as_smtp():
    report = read("udp-25.xml")
    port = report.hosts[0].port(25, "udp")
    assert port is not None and port.protocol is mailtls.Protocol.OTHER
    assert report.findings == ()


def test_namespaced_host_is_named_not_silently_dropped():
    report = read("namespaced-host.xml")
    assert report.hosts == ()
    messages = parse_problems(report)
    assert any("<host>" in m and "urn:example:not-nmap" in m for m in messages), messages
    assert not report.complete


def test_absurd_run_start_is_a_problem():
    report = read("start-overflow.xml")
    assert report.runs[0].started is None
    assert any("nmaprun start" in m and "99999999999999999" in m for m in parse_problems(report))
    assert {f.rule_id for f in report.findings} == {"MT101", "MT111"}


def test_absurd_host_starttime_is_a_problem():
    report = read("starttime-out-of-range.xml")
    assert any("host starttime" in m for m in parse_problems(report))
    # the run's own start is used instead
    assert report.hosts[0].ports[0].scanned_at == report.runs[0].started


def test_unreadable_key_size_does_not_hide_tls():
    # Given ssl-cert on 993 whose key size is "1e400"
    report = read("ssl-cert-bits-1e400.xml")
    port = report.hosts[0].port(993)
    # Then the certificate is kept (without its size), TLS is seen, and 993 is not "IMAP without TLS"
    assert port.certificate is not None and port.certificate.key_bits is None
    assert port.tls_mode is mailtls.TlsMode.IMPLICIT
    assert "MT102" not in {f.rule_id for f in report.findings}
    assert any("1e400" in m for m in parse_problems(report))


def test_tcpwrapped_port_is_inconclusive():
    report = read("tcpwrapped.xml")
    target = report.targets[0]
    assert target.outcome is Outcome.INCONCLUSIVE
    assert report.hosts[0].port(143).inconclusive
    assert any(p.stage is Stage.EXCHANGE and p.port == 143 and "tcpwrapped" in p.message for p in report.all_problems)
    assert report.findings == () and not report.complete


@pytest.mark.parametrize("path", sorted(HOSTILE_DATA.glob("*.xml")), ids=lambda p: p.name)
def test_every_crafted_file_reads_without_foreign_exception(path):
    # Through every entry point: read_scan, assess_xml, the streaming form, and the outputs
    scan = mailtls.read_scan(path)
    report = mailtls.assess_xml(path)
    streamed = list(mailtls.iter_assess_xml(path))
    assert len(streamed) == len(report.targets) == len(scan.hosts)
    mailtls.to_sarif(report)
    assert mailtls.from_json(mailtls.to_json(report)).findings == report.findings
    if path.name != "udp-25.xml":  # a UDP port is not a fault (see the README)
        assert report.all_problems, "every crafted file has a fault that must be named"

# --- sizes: linear time, bounded memory -------------------------------------------

MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    import mailtls
    from tests.hostile import bigxml
    source = getattr(bigxml, sys.argv[1])()
    started = time.monotonic()
    report = mailtls.assess_xml(source)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes": source.size,
        "ports": [len(h.ports) for h in report.hosts],
        "rules": sorted({f.rule_id for f in report.findings}),
        "errors": [e.message for e in report.all_problems][:50],
        "n_errors": len(report.all_problems),
    }))
    """
)


def measure(generator: str) -> dict:
    """Read generated XML in a fresh interpreter, for an honest peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, generator],
        check=False, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_host_with_400000_ports_is_bounded():
    # Given one host with 400,000 <port> elements (every number 1-65535 open, then repeats)
    out = measure("many_ports")
    assert out["bytes"] > 75_000_000
    # Then it is read in bounded time and memory (sanity bounds, not a benchmark)...
    assert out["seconds"] < 30, out["seconds"]
    assert out["peak_mb"] < 400, out["peak_mb"]
    # ...every distinct port once, and the excess named, not silently dropped
    assert out["ports"] == [65535]
    assert any("appears twice" in m for m in out["errors"])
    assert any("more repeated <port> elements were not read" in m for m in out["errors"])
    assert out["n_errors"] < 100  # a problem per repeat would itself be a flood
    assert "MT101" in out["rules"]


def test_200_mb_of_hosthints_is_bounded():
    out = measure("many_hosthints")
    assert out["bytes"] > 200_000_000
    assert out["seconds"] < 30, out["seconds"]
    assert out["peak_mb"] < 400, out["peak_mb"]
    # the one real host after them is still read and judged
    assert out["ports"] == [1] and "MT101" in out["rules"]


# --- documents that try the parser ------------------------------------------

HOST = """<host><status state="up" reason="user-set"/><address addr="192.0.2.7" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="110"><state state="open" reason="syn-ack"/>
<service name="pop3" method="probed" conf="10"/>{scripts}</port></ports></host>"""


#: What pop3-capabilities prints for a plaintext POP3 server with USER and no STLS.
PLAIN_POP3 = '<script id="pop3-capabilities" output="USER CAPA TOP UIDL"/>'


def nmaprun(*hosts, finished=True):
    body = "".join(hosts)
    tail = '<runstats><finished exit="success"/></runstats></nmaprun>' if finished else ""
    return (
        '<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap -sV" version="7.93" start="1700000000">'
        f"{body}{tail}"
    )


def test_billion_laughs_is_not_expanded():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><nmaprun args="&i;">'
        + HOST.format(scripts='<script id="pop3-capabilities" output="&i;"/>')
        + "</nmaprun>"
    )
    # Either libxml2 refuses the document outright (lxml 5+ caps entity amplification)...
    try:
        scan = mailtls.read_scan(bomb.encode())
    except mailtls.XmlError as exc:
        assert "entity" in str(exc).lower()
        return
    # ...or the entity is not expanded: at most the literal reference survives.
    assert len(scan.run.args) < 100
    assert all(len(s.output) < 100 for p in scan.hosts[0].ports for s in p.scripts)


def test_external_entity_is_not_fetched(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file://{secret}">]>'
        + nmaprun(HOST.format(scripts='<script id="pop3-capabilities" output="x">&x;</script>')).split("?>", 1)[1]
    )
    scan = mailtls.read_scan(xxe)
    assert "TOP-SECRET" not in repr(scan)


def test_truncated_scan_keeps_what_was_read():
    full = nmaprun(HOST.format(scripts=PLAIN_POP3), HOST.format(scripts=PLAIN_POP3).replace("192.0.2.7", "192.0.2.8"))
    cut = full[: full.index("192.0.2.8") + 20]
    scan = mailtls.read_scan(cut)
    assert [h.address for h in scan.hosts] == ["192.0.2.7"]
    assert scan.complete is False
    assert scan.problems and scan.problems[0].stage is Stage.PARSE
    report = mailtls.assess_xml(cut)
    # The one host read still gets its findings, and the report says the scan is incomplete.
    assert report.by_rule("MT101") and not report.complete


def test_missing_closing_tag_is_incomplete():
    scan = mailtls.read_scan(nmaprun(HOST.format(scripts=""), finished=False))
    assert len(scan.hosts) == 1 and not scan.complete and scan.problems


def test_garbage_script_output_is_a_problem_not_a_crash():
    garbage = (
        '<script id="ssl-cert" output="x"><table key="pubkey"><elem key="bits">lots</elem></table></script>'
        '<script id="ssl-enum-ciphers" output="x"><elem key="least strength">A</elem></script>'
    )
    report = mailtls.assess_xml(nmaprun(HOST.format(scripts=garbage)))
    port = report.hosts[0].ports[0]
    # The certificate is kept without the field that could not be read, and that is said.
    assert port.certificate is not None and port.certificate.key_bits is None
    assert any(p.stage is Stage.PARSE and "ssl-cert" in p.message and p.port == 110 for p in report.all_problems)
    # The raw output is still there for anyone who wants it.
    assert port.script("ssl-cert") is not None


@pytest.mark.parametrize(
    "text, message",
    [
        (b"", "not nmap XML"),
        (b"this is not xml", "not nmap XML"),
        (b"<html><body>hi</body></html>", "<html>"),
        (b"\x00\xff\xfe", "not nmap XML"),
    ],
)
def test_not_nmap_xml_raises(text, message):
    with pytest.raises(mailtls.XmlError, match=message):
        mailtls.read_scan(text)


def test_missing_file_raises_xml_error(tmp_path):
    with pytest.raises(mailtls.XmlError, match="cannot read"):
        mailtls.assess_xml(tmp_path / "nope.xml")
    with pytest.raises(mailtls.XmlError, match="expected nmap XML"):
        mailtls.read_scan(12345)


def test_nmap_error_exit_is_recorded():
    xml = nmaprun().replace('exit="success"', 'exit="error" errormsg="Failed to resolve"')
    report = mailtls.assess_xml(xml)
    assert any(p.stage is Stage.SCAN and "Failed to resolve" in p.message for p in report.all_problems)


def test_many_hosts_stream():
    hosts = [HOST.format(scripts=PLAIN_POP3).replace("192.0.2.7", f"198.51.100.{i}") for i in range(1, 200)]
    report = mailtls.assess_xml(nmaprun(*hosts))
    assert len(report.hosts) == 199 and len(report.by_rule("MT101")) == 199
