"""Step 3 of the data flow: nmap's XML becomes records. The only module that parses XML.

The XML is read as a stream (``lxml.etree.iterparse``), one ``<host>`` at a time,
with entity resolution, DTD loading and network access all off, so a file from
an untrusted source can neither expand entities nor make the parser fetch
anything. Each host element is freed once its record is built.

What nmap 7.93 writes, and why the odd lines below exist, is described in
NMAP-NOTES.md: the sign of TLS on a port is ``ssl-enum-ciphers``/``ssl-cert``
output, not the ``tunnel`` attribute; the capability scripts give only an output
string; Dovecot's IMAP reply text runs into the capability tokens.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
from typing import IO, Union

from lxml import etree

from ._errors import XmlError
from ._records import (
    Capabilities,
    Certificate,
    Cipher,
    HostRecord,
    NameAttribute,
    PortRecord,
    PortState,
    Problem,
    Protocol,
    ScanRecord,
    ScriptOutput,
    Service,
    Stage,
    TlsMode,
    TlsProfile,
    TlsVersion,
)

XmlSource = Union[bytes, str, "os.PathLike[str]", IO[bytes]]

_SERVICE_PROTOCOL = {
    "smtp": Protocol.SMTP,
    "smtps": Protocol.SMTP,
    "submission": Protocol.SMTP,
    "submissions": Protocol.SMTP,
    "pop3": Protocol.POP3,
    "pop3s": Protocol.POP3,
    "pop3pw": Protocol.POP3,
    "imap": Protocol.IMAP,
    "imaps": Protocol.IMAP,
    "imap3": Protocol.IMAP,
}
# Used only when service detection did not identify the port ("table" lookups or none).
_PORT_PROTOCOL = {
    25: Protocol.SMTP,
    465: Protocol.SMTP,
    587: Protocol.SMTP,
    110: Protocol.POP3,
    995: Protocol.POP3,
    143: Protocol.IMAP,
    993: Protocol.IMAP,
}
# nselib/sslcert.lua: nmap speaks STARTTLS first when the service name or the port
# number is one of these (and the service is not tunnelled); otherwise it opens TLS directly.
_NMAP_STARTTLS_SERVICES = frozenset({"smtp", "imap", "pop3", "lmtp"})
_NMAP_STARTTLS_PORTS = frozenset({25, 587, 110, 143})

_CAPABILITY_SCRIPTS = {
    "smtp-commands": Protocol.SMTP,
    "imap-capabilities": Protocol.IMAP,
    "pop3-capabilities": Protocol.POP3,
}


def read_scan(source: XmlSource) -> ScanRecord:
    """Parse nmap XML (bytes, a str of XML, a path, or a binary file) into a ``ScanRecord``.

    A document cut short (nmap killed, file truncated) still yields the hosts read
    so far, with ``complete=False`` and a problem saying where it stopped. Input
    that is not nmap XML at all raises ``XmlError``.
    """
    return _Reader(source).read()


class _Reader:
    def __init__(self, source: XmlSource) -> None:
        self._stream = _open(source)
        self.hosts: list[HostRecord] = []
        self.problems: list[Problem] = []
        self.run_attrs: dict[str, str] = {}
        self.finished: dict[str, str] = {}
        self.complete = False

    def read(self) -> ScanRecord:
        try:
            self._walk()
        except etree.XMLSyntaxError as exc:
            if not self.run_attrs:
                raise XmlError(f"not nmap XML: {exc}") from None
            self.problems.append(
                Problem(
                    stage=Stage.PARSE,
                    message=f"the XML stops early, after {len(self.hosts)} host(s): {exc}",
                )
            )
        finally:
            if self._stream is not None:
                self._stream.close()
        if not self.complete and not self.problems:
            self.problems.append(Problem(stage=Stage.PARSE, message="the XML has no closing </nmaprun>"))
        if self.finished.get("exit") == "error":
            self.problems.append(
                Problem(stage=Stage.SCAN, message=f"nmap reported an error: {self.finished.get('errormsg', '')}")
            )
        return ScanRecord(
            hosts=tuple(self.hosts),
            args=self.run_attrs.get("args", ""),
            scanner_version=self.run_attrs.get("version", ""),
            started=_epoch(self.run_attrs.get("start")),
            complete=self.complete,
            exit_status=self.finished.get("exit", ""),
            exit_message=self.finished.get("errormsg", ""),
            problems=tuple(self.problems),
        )

    def _walk(self) -> None:
        # Only these three tags reach Python: everything inside a <host> is read from its
        # subtree once the host has ended, which keeps the per-element cost in libxml2.
        parser = etree.iterparse(
            self._stream,
            events=("start", "end"),
            tag=("nmaprun", "host", "finished"),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        for event, elem in parser:
            parent = elem.getparent()
            if elem.tag == "nmaprun":
                if parent is not None:
                    continue
                if event == "start":
                    self.run_attrs = dict(elem.attrib)
                else:
                    self.complete = True
            elif event == "end" and parent is not None and parent.getparent() is None and parent.tag == "nmaprun":
                if elem.tag == "host":
                    self._host(elem)
                    # Free what has been read: memory stays flat however many hosts follow.
                    elem.clear(keep_tail=False)
                    while elem.getprevious() is not None:
                        del parent[0]
            elif event == "end" and elem.tag == "finished" and parent is not None and parent.tag == "runstats":
                self.finished = dict(elem.attrib)
        if not self.run_attrs:
            root = parser.root.tag if parser.root is not None else "?"
            raise XmlError(f"not nmap XML: the root element is <{root}>, not <nmaprun>")

    def _host(self, elem: etree._Element) -> None:
        address = next(
            (a.get("addr", "") for a in elem.iterfind("address") if a.get("addrtype") in ("ipv4", "ipv6")),
            "",
        )
        if not address:
            self.problems.append(Problem(stage=Stage.PARSE, message="a <host> without an IP address was skipped"))
            return
        status = elem.find("status")
        hostname = next(
            (h.get("name") for h in elem.iterfind("hostnames/hostname") if h.get("type") == "user"), None
        )
        timed_out = elem.get("timedout") == "true"
        scanned_at = _epoch(elem.get("starttime")) or _epoch(self.run_attrs.get("start"))
        ports = tuple(self._port(address, hostname, scanned_at, p) for p in elem.iterfind("ports/port"))
        host = HostRecord(
            address=address,
            status=status.get("state", "") if status is not None else "",
            reason=status.get("reason", "") if status is not None else "",
            hostname=hostname,
            ports=ports,
            timed_out=timed_out,
        )
        if timed_out:
            self.problems.append(
                Problem(stage=Stage.HOST, address=address, message="nmap gave up on this host (host timeout)")
            )
        elif host.status == "down":
            self.problems.append(
                Problem(stage=Stage.HOST, address=address, message=f"host is down ({host.reason or 'no reply'})")
            )
        self.hosts.append(host)

    def _port(
        self, address: str, hostname: str | None, scanned_at: dt.datetime | None, elem: etree._Element
    ) -> PortRecord:
        number = _int(elem.get("portid")) or 0
        state_el = elem.find("state")
        service = _service(elem.find("service"))
        scripts = {s.get("id", ""): s for s in elem.iterfind("script")}

        def guarded(script_id: str, build):  # type: ignore[no-untyped-def]
            el = scripts.get(script_id)
            if el is None:
                return None
            try:
                return build(el)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                self.problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        address=address,
                        port=number,
                        message=f"{script_id} output could not be read: {exc}",
                    )
                )
                return None

        tls = guarded("ssl-enum-ciphers", _tls_profile)
        certificate = guarded("ssl-cert", _certificate)
        has_tls = bool(tls and tls.versions) or certificate is not None
        tls_mode = _tls_mode(has_tls, service, number)
        protocol = _protocol(service, number, scripts)
        capabilities = None
        for script_id, script_protocol in _CAPABILITY_SCRIPTS.items():
            if script_id in scripts:
                capabilities = guarded(
                    script_id,
                    lambda el, p=script_protocol: _capabilities(el, p, before_tls=tls_mode is not TlsMode.IMPLICIT),
                )
                break
        return PortRecord(
            address=address,
            hostname=hostname,
            scanned_at=scanned_at,
            number=number,
            transport=elem.get("protocol", "tcp"),
            state=_state(state_el.get("state") if state_el is not None else None),
            reason=state_el.get("reason", "") if state_el is not None else "",
            service=service,
            protocol=protocol,
            tls_mode=tls_mode,
            tls=tls,
            certificate=certificate,
            capabilities=capabilities,
            scripts=tuple(ScriptOutput(id=sid, output=el.get("output", "")) for sid, el in scripts.items()),
        )


def _open(source: XmlSource) -> IO[bytes]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str):
        if source.lstrip().startswith("<"):
            return io.BytesIO(source.encode("utf-8"))
        return _open_path(source)
    if isinstance(source, os.PathLike):
        return _open_path(source)
    if hasattr(source, "read"):
        return source
    raise XmlError(f"expected nmap XML as bytes, str, a path or a binary file, got {type(source).__name__}")


def _open_path(path: "str | os.PathLike[str]") -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise XmlError(f"cannot read nmap XML from {os.fspath(path)!r}: {exc.strerror}") from None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> dt.datetime | None:
    seconds = _int(value)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc) if seconds is not None else None


def _state(value: str | None) -> PortState:
    try:
        return PortState(value or "unknown")
    except ValueError:
        return PortState.UNKNOWN


def _service(elem: etree._Element | None) -> Service:
    if elem is None:
        return Service()
    return Service(
        name=elem.get("name", ""),
        product=elem.get("product", ""),
        version=elem.get("version", ""),
        extrainfo=elem.get("extrainfo", ""),
        tunnel=elem.get("tunnel", ""),
        method=elem.get("method", ""),
        conf=_int(elem.get("conf")) or 0,
    )


def _protocol(service: Service, number: int, scripts: dict[str, etree._Element]) -> Protocol:
    if service.name in _SERVICE_PROTOCOL:
        return _SERVICE_PROTOCOL[service.name]
    if service.method == "probed" and service.name:
        return Protocol.OTHER  # service detection recognised something that is not mail
    for script_id, protocol in _CAPABILITY_SCRIPTS.items():
        if script_id in scripts:
            return protocol
    return _PORT_PROTOCOL.get(number, Protocol.OTHER)


def _tls_mode(has_tls: bool, service: Service, number: int) -> TlsMode:
    # Mirrors how nmap chose to open TLS on the port (nselib/sslcert.lua), since
    # the TLS scripts' output only exists if that handshake worked.
    if not has_tls:
        return TlsMode.NONE
    if service.tunnel == "ssl":
        return TlsMode.IMPLICIT
    if service.name in _NMAP_STARTTLS_SERVICES or number in _NMAP_STARTTLS_PORTS:
        return TlsMode.STARTTLS
    return TlsMode.IMPLICIT


# --- NSE structured output -------------------------------------------------------------


def _keyed(elem: etree._Element, tag: str, key: str) -> etree._Element | None:
    for child in elem.iterchildren(tag):
        if child.get("key") == key:
            return child
    return None


def _index(elem: etree._Element) -> dict[str, etree._Element]:
    """key -> keyed child (``<elem>`` or ``<table>``), in one pass."""
    return {child.get("key", ""): child for child in elem}


def _texts(elem: etree._Element) -> dict[str, str]:
    """key -> text of every keyed ``<elem>`` child, in one pass."""
    return {e.get("key", ""): (e.text or "").strip() for e in elem.iterchildren("elem")}


def _text(elem: etree._Element, key: str) -> str:
    found = _keyed(elem, "elem", key)
    return (found.text or "").strip() if found is not None else ""


def _items(elem: etree._Element | None) -> tuple[str, ...]:
    if elem is None:
        return ()
    return tuple((e.text or "").strip() for e in elem.iterchildren("elem"))


@functools.lru_cache(maxsize=4096)
def _cipher(name: str, kex_info: str, strength: str) -> Cipher:
    # The same few dozen suites recur on every port of every host: share one immutable
    # record for each instead of building (and keeping) thousands of equal ones.
    return Cipher(name=name, kex_info=kex_info, strength=strength)


def _tls_profile(elem: etree._Element) -> TlsProfile:
    versions = []
    for table in elem.iterchildren("table"):
        parts = _index(table)
        ciphers_el = parts.get("ciphers")
        ciphers = tuple(
            _cipher(t.get("name", ""), t.get("kex_info", ""), t.get("strength", ""))
            for t in map(_texts, ciphers_el.iterchildren("table") if ciphers_el is not None else ())
        )
        preference = parts.get("cipher preference")
        versions.append(
            TlsVersion(
                name=table.get("key", ""),
                ciphers=ciphers,
                compressors=_items(parts.get("compressors")),
                cipher_preference=(preference.text or "").strip() if preference is not None else "",
                warnings=_items(parts.get("warnings")),
            )
        )
    return TlsProfile(versions=tuple(versions), least_strength=_text(elem, "least strength"))


def _names(elem: etree._Element | None) -> tuple[NameAttribute, ...]:
    if elem is None:
        return ()
    return tuple(NameAttribute(key=e.get("key", ""), value=(e.text or "").strip()) for e in elem.iterchildren("elem"))


def _certificate(elem: etree._Element) -> Certificate | None:
    parts = _index(elem)
    pubkey = _texts(parts["pubkey"]) if "pubkey" in parts else {}
    validity = _texts(parts["validity"]) if "validity" in parts else {}
    if not pubkey and not validity:
        return None  # nmap without OpenSSL only dumps the PEM
    sans: tuple[str, ...] = ()
    extensions = parts.get("extensions")
    for ext in map(_texts, extensions.iterchildren("table") if extensions is not None else ()):
        if ext.get("name") == "X509v3 Subject Alternative Name":
            sans = tuple(part.strip() for part in ext.get("value", "").split(",") if part.strip())

    def text(key: str) -> str:
        found = parts.get(key)
        return (found.text or "").strip() if found is not None else ""

    bits = pubkey.get("bits", "")
    return Certificate(
        subject=_names(parts.get("subject")),
        issuer=_names(parts.get("issuer")),
        subject_alt_names=sans,
        key_type=pubkey.get("type", ""),
        key_bits=int(bits) if bits else None,
        signature_algorithm=text("sig_algo"),
        not_before=_timestamp(validity.get("notBefore", "")),
        not_after=_timestamp(validity.get("notAfter", "")),
        sha1=text("sha1"),
    )


def _timestamp(value: str) -> dt.datetime | None:
    # ssl-cert prints ISO 8601 ("2030-01-01T00:00:00", sometimes with an offset),
    # or "MISSING"/"Can't parse..." for a broken certificate: those become None.
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


# --- capability strings --------------------------------------------------------------------

_SASL = re.compile(r"^SASL\((?P<mechs>[^)]*)\)$")


# What the capability scripts print when they could not talk to the server at all.
_SCRIPT_FAILURES = ("Couldn't establish connection", "Failed to connect", "Failed to retrieve")


def _capabilities(elem: etree._Element, protocol: Protocol, *, before_tls: bool) -> Capabilities | None:
    raw = elem.get("output", "")
    if raw.strip().startswith(_SCRIPT_FAILURES):
        return None
    if protocol is Protocol.SMTP:
        return _smtp_capabilities(elem.get("id", ""), raw, before_tls)
    if protocol is Protocol.IMAP:
        return _imap_capabilities(elem.get("id", ""), raw, before_tls)
    return _pop3_capabilities(elem.get("id", ""), raw, before_tls)


def _smtp_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # smtp-commands: the EHLO reply lines joined with ", " (first line is the greeting),
    # then "\n " and the HELP text. Only the EHLO part says what the server offers.
    ehlo = raw.split("\n", 1)[0]
    lines = [line.strip() for line in ehlo.split(",")][1:]
    keywords: list[str] = []
    mechanisms: list[str] = []
    for line in lines:
        words = line.upper().split()
        if not words:
            continue
        keywords.append(words[0])
        if words[0] == "AUTH":
            mechanisms.extend(words[1:])
        elif words[0].startswith("AUTH="):  # obsolete form some servers still send
            mechanisms.extend([words[0][5:], *words[1:]])
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(keywords),
        auth_mechanisms=_unique(mechanisms),
        starttls="STARTTLS" in keywords,
        before_tls=before_tls,
    )


def _imap_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # imap-capabilities prints a Lua table's keys in no fixed order, and Dovecot's
    # tagged "OK" text runs into the last token (e.g. "LOGINDISABLEDA0001",
    # "AUTH=PLAINA0001"). Match known capabilities by prefix for that reason.
    tokens = [t.upper() for t in raw.split()]
    mechanisms = [t[5:] for t in tokens if t.startswith("AUTH=")]
    mechanisms = [re.sub(r"A\d{4}$", "", m) for m in mechanisms]
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(tokens),
        auth_mechanisms=_unique(mechanisms),
        starttls=any(t.startswith("STARTTLS") for t in tokens),
        login_disabled=any(t.startswith("LOGINDISABLED") for t in tokens),
        before_tls=before_tls,
    )


def _pop3_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # pop3-capabilities: "CAP" or "CAP(arg arg)" items separated by spaces, unordered.
    tokens = re.findall(r"[^\s(]+(?:\([^)]*\))?", raw)
    keywords = [t.split("(", 1)[0].upper() for t in tokens]
    mechanisms: list[str] = []
    for token in tokens:
        match = _SASL.match(token.upper())
        if match:
            mechanisms.extend(match["mechs"].split())
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(keywords),
        auth_mechanisms=_unique(mechanisms),
        starttls="STLS" in keywords,
        user_login="USER" in keywords,
        before_tls=before_tls,
    )


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))

