"""Step 3 of the data flow: nmap's XML becomes records. ``nmapxml/`` is the only code that reads XML.

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
import io
import os
from typing import IO, Union

from lxml import etree

from .._errors import XmlError
from ..model.records import (
    HostRecord,
    PortRecord,
    PortState,
    Problem,
    ScanRecord,
    ScriptOutput,
    Service,
    Stage,
    TlsMode,
)
from ..protocols import (
    CAPABILITY_SCRIPTS,
    NMAP_STARTTLS_PORTS,
    NMAP_STARTTLS_SERVICES,
    PORT_PROTOCOL,
    SERVICE_PROTOCOL,
    Protocol,
)
from .capabilities import capabilities as read_capabilities
from .nse import certificate as read_certificate
from .nse import tls_profile as read_tls_profile

XmlSource = Union[bytes, str, "os.PathLike[str]", IO[bytes]]

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

        tls = guarded("ssl-enum-ciphers", read_tls_profile)
        certificate = guarded("ssl-cert", read_certificate)
        has_tls = bool(tls and tls.versions) or certificate is not None
        tls_mode = _tls_mode(has_tls, service, number)
        protocol = _protocol(service, number, scripts)
        capabilities = None
        for script_id, script_protocol in CAPABILITY_SCRIPTS.items():
            if script_id in scripts:
                capabilities = guarded(
                    script_id,
                    lambda el, p=script_protocol: read_capabilities(el, p, before_tls=tls_mode is not TlsMode.IMPLICIT),
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
    if service.name in SERVICE_PROTOCOL:
        return SERVICE_PROTOCOL[service.name]
    if service.method == "probed" and service.name:
        return Protocol.OTHER  # service detection recognised something that is not mail
    for script_id, protocol in CAPABILITY_SCRIPTS.items():
        if script_id in scripts:
            return protocol
    return PORT_PROTOCOL.get(number, Protocol.OTHER)


def _tls_mode(has_tls: bool, service: Service, number: int) -> TlsMode:
    # Mirrors how nmap chose to open TLS on the port (nselib/sslcert.lua), since
    # the TLS scripts' output only exists if that handshake worked.
    if not has_tls:
        return TlsMode.NONE
    if service.tunnel == "ssl":
        return TlsMode.IMPLICIT
    if service.name in NMAP_STARTTLS_SERVICES or number in NMAP_STARTTLS_PORTS:
        return TlsMode.STARTTLS
    return TlsMode.IMPLICIT
