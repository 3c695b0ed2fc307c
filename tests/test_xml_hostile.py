"""The XML reader against input nobody should trust: entities, external references,
truncation, garbage script output, documents that are not nmap's.

Addresses here are from the documentation ranges: these files are never scanned."""

import pytest

import mailtls
from mailtls import Stage

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
    assert any(p.stage is Stage.PARSE and "ssl-cert" in p.message and p.port == 110 for p in report.errors)
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
    assert any(p.stage is Stage.SCAN and "Failed to resolve" in p.message for p in report.errors)


def test_many_hosts_stream():
    hosts = [HOST.format(scripts=PLAIN_POP3).replace("192.0.2.7", f"198.51.100.{i}") for i in range(1, 200)]
    report = mailtls.assess_xml(nmaprun(*hosts))
    assert len(report.hosts) == 199 and len(report.by_rule("MT101")) == 199
