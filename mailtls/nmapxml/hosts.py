"""What nmap's output means: a ``<host>`` element, once read, as a ``HostRecord``.

``HostReader`` reads one host's address and name, then each ``<port>``: its state and
service, the protocol it speaks (service detection, else a capability script that
answered, else the port number), whether TLS worked and how nmap reached it (the sign of
TLS on a port is ``ssl-enum-ciphers``/``ssl-cert`` output, not the ``tunnel`` attribute),
what the server advertised, and why a port that said nothing is inconclusive. The
streaming itself, and the bounds on a hostile document, are ``reader.py``'s.

What nmap 7.93 writes, and why the odd lines below exist: the capability scripts give
only an output string (``capabilities.py``); Dovecot's IMAP reply text runs into the
capability tokens; nmap chooses STARTTLS or TLS by service name and port number
(nselib/sslcert.lua), which ``_tls_mode`` mirrors.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from lxml import etree

from ..model.records import (
    Capabilities,
    Certificate,
    HostRecord,
    PortRecord,
    PortState,
    Problem,
    ScriptOutput,
    Service,
    Stage,
    TlsMode,
)
from ..protocols import (
    CAPABILITY_SCRIPTS,
    EHLO_SCRIPT,
    NMAP_STARTTLS_PORTS,
    NMAP_STARTTLS_SERVICES,
    PORT_PROTOCOL,
    SERVICE_PROTOCOL,
    Protocol,
)
from .capabilities import Inconclusive
from .capabilities import capabilities as read_capabilities
from .capabilities import ehlo_capabilities as read_ehlo
from .tls import certificate as read_certificate
from .tls import tls_profile as read_tls_profile

T = TypeVar("T")

#: What every port of a host is read with: its address, its name, when it was scanned.
Context = tuple[str, "str | None", "dt.datetime | None"]

MAX_SCRIPTS_PER_PORT = 256
# Records shared between equal subtrees (see HostReader._shared): how many, and how large.
_MAX_SHARED = 1024
_MAX_SHARED_KEY = 64 * 1024


class HostReader:
    """Builds the records of one document's hosts. ``started`` (the run's start) stands in for
    a host without a start time of its own; equal NSE subtrees share one record."""

    def __init__(self) -> None:
        self.started: dt.datetime | None = None
        self._records: dict[bytes, object] = {}

    def _shared(self, elem: etree._Element, build: Callable[[etree._Element], T]) -> T:
        """One record per distinct subtree: hosts and ports that present the same certificate or
        the same cipher configuration share one immutable record, built once. The key is the
        subtree's serialisation, made in C; very large subtrees are built without sharing."""
        key = etree.tostring(elem)
        if len(key) > _MAX_SHARED_KEY:
            return build(elem)
        found = self._records.get(key)
        if found is None:
            if len(self._records) >= _MAX_SHARED:
                self._records.clear()
            found = self._records[key] = build(elem)
        # The cache holds records of several types; this key's record was made by this build: a T.
        return found  # type: ignore[return-value]

    def context(
        self, elem: etree._Element, problems: list[Problem]
    ) -> Context | None:
        """What every port of a host is read with: its address, its name, when it was scanned;
        None if the host has no valid IP address (so far)."""
        addresses = [a.get("addr", "") for a in elem.iterfind("address") if a.get("addrtype") in ("ipv4", "ipv6")]
        address = _ip(addresses[0]) if addresses else None
        if address is None:
            return None
        hostname = next(
            (h.get("name") for h in elem.iterfind("hostnames/hostname") if h.get("type") == "user"), None
        )
        scanned_at = epoch(elem.get("starttime"), "host starttime", problems) or self.started
        return address, hostname, scanned_at

    def host(
        self,
        elem: etree._Element,
        problems: list[Problem],
        context: Context | None = None,
        early: Iterable[PortRecord] = (),
    ) -> HostRecord | None:
        """The host's record; ``context`` and ``early`` are what the reader read while the host
        was still open (its context, and the ports it read then)."""
        if context is None:
            addresses = [a.get("addr", "") for a in elem.iterfind("address") if a.get("addrtype") in ("ipv4", "ipv6")]
            if not addresses:
                problems.append(Problem(stage=Stage.PARSE, message="a <host> without an IP address was skipped"))
                return None
            if _ip(addresses[0]) is None:
                problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        message=f"a <host> whose address is not an IP address was skipped: {addresses[0][:80]!r}",
                    )
                )
                return None
            context = self.context(elem, problems)
            assert context is not None  # noqa: S101 - narrowing: the address was checked just above
        address, hostname, scanned_at = context
        status = elem.find("status")
        timed_out = elem.get("timedout") == "true"

        def the_rest() -> Iterator[PortRecord]:
            for port_el in list(elem.iterfind("ports/port")):
                port = self.port(address, hostname, scanned_at, port_el, problems)
                holder = port_el.getparent()
                if holder is not None:
                    holder.remove(port_el)
                if port is not None:
                    yield port

        ports: list[PortRecord] = []
        seen: set[tuple[str, int]] = set()
        for port in itertools.chain(early, the_rest()):
            key = (port.transport, port.number)
            if key in seen:
                # Repeats of the same portid were dropped while reading (see _walk); what is
                # left are spellings of one number ("110", "0110").
                repeated = f"port {port.number}/{port.transport} appears twice: only the first is read"
                problems.append(Problem(Stage.PARSE, repeated, address, port.number))
                continue
            seen.add(key)
            ports.append(port)
        host = HostRecord(
            address=address,
            status=status.get("state", "") if status is not None else "",
            status_reason=status.get("reason", "") if status is not None else "",
            hostname=hostname,
            ports=tuple(ports),
            timed_out=timed_out,
        )
        if timed_out:
            problems.append(
                Problem(stage=Stage.HOST, address=address, message="nmap gave up on this host (host timeout)")
            )
        elif host.status == "down":
            problems.append(
                Problem(stage=Stage.HOST, address=address, message=f"host is down ({host.status_reason or 'no reply'})")
            )
        for port in host.open_ports:
            if port.inconclusive:
                why = f"port {port.number} is inconclusive: {port.inconclusive}"
                problems.append(Problem(Stage.EXCHANGE, why, address, port.number))
        return host

    def port(
        self,
        address: str,
        hostname: str | None,
        scanned_at: dt.datetime | None,
        elem: etree._Element,
        problems: list[Problem],
    ) -> PortRecord | None:
        portid = elem.get("portid", "")
        number = int(portid) if portid.isascii() and portid.isdigit() and len(portid) <= 5 else 0
        if not 1 <= number <= 65535:
            problems.append(
                Problem(
                    stage=Stage.PARSE,
                    address=address,
                    message=f"a <port> with portid {portid[:20]!r} is not a port number: skipped",
                )
            )
            return None
        transport = elem.get("protocol", "tcp")
        state_el = elem.find("state")
        service = _service(elem.find("service"))
        scripts: dict[str, etree._Element] = {}
        for script_el in elem.iterfind("script"):
            if len(scripts) >= MAX_SCRIPTS_PER_PORT:
                excess = f"more than {MAX_SCRIPTS_PER_PORT} scripts on one port: the rest were not read"
                problems.append(Problem(Stage.PARSE, excess, address, number))
                break
            scripts.setdefault(script_el.get("id", ""), script_el)

        def guarded(script_id: str, build: Callable[[etree._Element], T]) -> T | None:
            el = scripts.get(script_id)
            if el is None:
                return None
            try:
                return build(el)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                problems.append(Problem(Stage.PARSE, f"{script_id} output could not be read: {exc}", address, number))
                return None

        tls = guarded("ssl-enum-ciphers", lambda el: self._shared(el, read_tls_profile))
        read_cert = guarded("ssl-cert", lambda el: self._shared(el, _certificate_and_complaints))
        certificate, complaints = read_cert if read_cert is not None else (None, ())
        problems.extend(Problem(stage=Stage.PARSE, address=address, port=number, message=m) for m in complaints)
        # TLS worked if either script saw it: ssl-enum-ciphers listed a version, or ssl-cert
        # printed a certificate (even one whose fields could not all be read).
        has_tls = bool(tls and tls.versions) or certificate is not None or _printed(scripts.get("ssl-cert"))
        tls_mode = _tls_mode(has_tls, service, number)
        protocol = _protocol(service, number, scripts) if transport == "tcp" else Protocol.OTHER
        state = _state(state_el.get("state") if state_el is not None else None)
        capabilities: Capabilities | None = None
        inconclusive = ""
        before_tls = tls_mode is not TlsMode.IMPLICIT
        for script_id, script_protocol in CAPABILITY_SCRIPTS.items():
            script_el = scripts.get(script_id)
            if script_el is None:
                continue
            if script_id == EHLO_SCRIPT:
                # mailtls's own script keeps EHLO's lines apart; smtp-commands adds the HELP text.
                help_el = scripts.get("smtp-commands")
                help_output = help_el.get("output", "") if help_el is not None else ""
                def read_ehlo_here(el: etree._Element, raw: str = help_output) -> Capabilities | Inconclusive:
                    return read_ehlo(el, raw, before_tls=before_tls)

                ehlo = guarded(script_id, read_ehlo_here)
                if ehlo is None:
                    continue  # unreadable: smtp-commands, if it ran, is read instead
                read: Capabilities | Inconclusive = ehlo
            else:
                read = read_capabilities(script_id, script_el.get("output", ""), script_protocol, before_tls=before_tls)
            if isinstance(read, Inconclusive):
                inconclusive = read.reason
            else:
                capabilities = read
            break
        if state is PortState.OPEN and transport == "tcp" and capabilities is None and not has_tls:
            inconclusive = _why_inconclusive(service, protocol, inconclusive)
        else:
            inconclusive = ""
        return PortRecord(
            address=address, hostname=hostname, scanned_at=scanned_at, number=number, transport=transport,
            state=state, state_reason=state_el.get("reason", "") if state_el is not None else "",
            service=service, protocol=protocol, tls_mode=tls_mode, tls=tls, certificate=certificate,
            capabilities=capabilities, inconclusive=inconclusive,
            scripts=tuple(ScriptOutput(id=sid, output=el.get("output", "")) for sid, el in scripts.items()),
        )



def _certificate_and_complaints(elem: etree._Element) -> tuple[Certificate | None, tuple[str, ...]]:
    complaints: list[str] = []
    return read_certificate(elem, complaints.append), tuple(complaints)


def _why_inconclusive(service: Service, protocol: Protocol, failure: str) -> str:
    """Why an open port with neither capabilities nor TLS tells nothing, or "" if it does.

    A port that service detection identified as something other than mail is conclusive
    (it is not a mail service); every other silence is not evidence of plaintext."""
    if failure:
        return failure
    if service.name == "tcpwrapped":
        return "the port accepted the connection and closed it at once (tcpwrapped)"
    if protocol is Protocol.OTHER:
        return "" if service.method == "probed" and service.name else "no mail protocol answered on the port"
    return f"no answer to nmap's {protocol.value.upper()} capability probe"


def _printed(elem: etree._Element | None) -> bool:
    return elem is not None and bool(elem.get("output", "").strip()) and len(elem) > 0


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def epoch(value: str | None, what: str, problems: list[Problem]) -> dt.datetime | None:
    """An nmap time stamp (seconds since 1970), or None with a problem when it cannot be one."""
    if value is None:
        return None
    stamp = _epoch(value)
    if stamp is None:
        problems.append(
            Problem(stage=Stage.PARSE, message=f"{what} is not a time nmap could have written: {value[:40]!r}")
        )
    return stamp


def as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> dt.datetime | None:
    seconds = as_int(value)
    if seconds is None or not 0 <= seconds < 1 << 40:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


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
        conf=as_int(elem.get("conf")) or 0,
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
