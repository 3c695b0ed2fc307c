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
import ipaddress
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar, Union

from lxml import etree

from .._errors import XmlError
from ..model.records import (
    Capabilities,
    Certificate,
    HostRecord,
    PortRecord,
    PortState,
    Problem,
    RunRecord,
    ScanRecord,
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
from .capabilities import ExchangeFailed
from .capabilities import capabilities as read_capabilities
from .capabilities import ehlo_capabilities as read_ehlo
from .nse import certificate as read_certificate
from .nse import tls_profile as read_tls_profile

XmlSource = Union[bytes, str, "os.PathLike[str]", IO[bytes]]
T = TypeVar("T")

#: A host as read, with what went wrong while reading it.
HostRead = tuple[HostRecord, tuple[Problem, ...]]

#: Bounds on what one document may hold, so that a hostile file costs linear time and
#: bounded memory. nmap itself never comes near them: a host has at most 65,535 ports
#: per transport (and nmap folds all but a few of one state into <extraports>), and
#: nmap's own attribute values are short. A <port> element held until its host ends
#: costs about 3 KB, so 65,535 of them stay near 200 MB.
MAX_PORTS_PER_HOST = 65535
MAX_SCRIPTS_PER_PORT = 256
MAX_ATTRIBUTE_LENGTH = 1 << 20
#: Repeated <port> elements named one by one in a host's problems; the rest are counted.
MAX_REPORTED_DUPLICATES = 20
# Records shared between equal subtrees (see ScanReader._shared): how many, and how large.
_MAX_SHARED = 1024
_MAX_SHARED_KEY = 64 * 1024

# nmap's top-level elements other than <host>: read, then freed at once so that a file
# of millions of them (e.g. <hosthint>) does not pile up in memory.
_TOP_LEVEL_NOISE = (
    "hosthint", "taskbegin", "taskprogress", "taskend", "output", "verbose", "debugging", "scaninfo", "prescript",
    "postscript",
)


def read_scan(source: XmlSource) -> ScanRecord:
    """Parse nmap XML (bytes, a str of XML, a path, or a binary file) into a ``ScanRecord``.

    A document cut short (nmap killed, file truncated) still yields the hosts read
    so far, with ``complete=False`` and a problem saying where it stopped. Input
    that is not nmap XML at all raises ``XmlError``. To read a large file without
    holding it, iterate a ``ScanReader`` instead.
    """
    reader = ScanReader(source)
    hosts: list[HostRecord] = []
    problems: list[Problem] = []
    for host, host_problems in reader:
        hosts.append(host)
        problems.extend(host_problems)
    return ScanRecord(hosts=tuple(hosts), run=reader.run, problems=(*problems, *reader.problems))


class ScanReader:
    """nmap XML read as a stream, one host at a time, as nmap writes it.

    Iterating yields each ``<host>`` as a ``HostRecord`` (with the problems met while
    reading it) as soon as its end tag has been read, so a live nmap run's hosts arrive
    while nmap works on the others, and nothing read is held. Once the iteration ends,
    ``run`` describes the run and ``problems`` holds what concerns the document as a
    whole (cut short, nmap's error). Input that is not nmap XML raises ``XmlError``.
    """

    def __init__(self, source: XmlSource) -> None:
        self._source = source
        self._stream: IO[bytes] | None = None
        self._run_attrs: dict[str, str] = {}
        self._finished: dict[str, str] = {}
        self._complete = False
        self._hosts_read = 0
        self._started: dt.datetime | None = None
        self.problems: list[Problem] = []
        self.run = RunRecord(complete=False)
        self._records: dict[bytes, object] = {}

    def __iter__(self) -> Iterator[HostRead]:
        self._stream = _open(self._source)
        try:
            yield from self._walk()
        except etree.XMLSyntaxError as exc:
            if not self._run_attrs:
                raise XmlError(f"not nmap XML: {exc}") from None
            self.problems.append(
                Problem(stage=Stage.PARSE, message=f"the XML stops early, after {self._hosts_read} host(s): {exc}")
            )
        finally:
            self._stream.close()
            self._finish()

    def _finish(self) -> None:
        if not self._complete and not any(p.stage is Stage.PARSE for p in self.problems):
            self.problems.append(Problem(stage=Stage.PARSE, message="the XML has no closing </nmaprun>"))
        elif self._complete and not self._finished:
            # nmap writes <runstats><finished exit=...> last, always: without it, how the run
            # ended is unknown (python-nmap raises AttributeError on such a file). A problem of
            # the run as a whole (Stage.SCAN), like nmap's own exit status.
            self.problems.append(
                Problem(
                    stage=Stage.SCAN, message="the XML has no <runstats><finished>: nmap did not say how the run ended"
                )
            )
        if self._finished.get("exit") == "error":
            self.problems.append(
                Problem(stage=Stage.SCAN, message=f"nmap reported an error: {self._finished.get('errormsg', '')}")
            )
        self.run = RunRecord(
            args=self._run_attrs.get("args", ""),
            scanner_version=self._run_attrs.get("version", ""),
            started=self._started,
            complete=self._complete,
            exit_status=self._finished.get("exit", ""),
            exit_message=self._finished.get("errormsg", ""),
        )

    def _walk(self) -> Iterator[HostRead]:
        # Only these tags reach Python: everything inside a <host> is read from its subtree
        # once the host has ended, which keeps the per-element cost in libxml2. <port> is
        # seen only to count it, so that a host of a million ports cannot fill memory.
        assert self._stream is not None  # noqa: S101 - narrowing: _walk runs only on an opened source
        parser = etree.iterparse(
            self._stream,
            events=("start", "end"),
            tag=("nmaprun", "host", "port", "finished", *_TOP_LEVEL_NOISE),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        ports_in_host = repeat_count = 0
        port_keys: set[tuple[str, str]] = set()
        repeats: list[tuple[str, str]] = []
        # The host being read: where its ports are read as they end (see below).
        context: tuple[str, str | None, dt.datetime | None] | None = None
        context_read = False
        early: list[PortRecord] = []
        host_problems: list[Problem] = []
        for event, elem in parser:
            tag = elem.tag
            parent = elem.getparent()
            if tag == "port":
                if event == "end" and parent is not None:
                    # Dropped as soon as read, so that memory stays bounded: a repeat of a port
                    # already seen in this host, and every port past the bound.
                    key = (elem.get("protocol", "tcp"), elem.get("portid", ""))
                    if key in port_keys:
                        parent.remove(elem)
                        repeats.append(key)
                        del repeats[MAX_REPORTED_DUPLICATES:]
                        repeat_count += 1
                    else:
                        ports_in_host += 1
                        if ports_in_host > MAX_PORTS_PER_HOST:
                            parent.remove(elem)
                        else:
                            port_keys.add(key)
                            # Read into its record at once and freed, when the host's address
                            # came first (as nmap writes it): a host of many ports is never
                            # held whole. Otherwise the port waits for its host's end tag.
                            host_el = parent.getparent()
                            if parent.tag == "ports" and _is_top_level_host(host_el):
                                if not context_read:
                                    context, context_read = self._context(host_el, host_problems), True
                                if context is not None:
                                    address, hostname, scanned_at = context
                                    port = self._port(address, hostname, scanned_at, elem, host_problems)
                                    parent.remove(elem)
                                    if port is not None:
                                        early.append(port)
                continue
            if tag == "nmaprun":
                if parent is not None:
                    continue
                if event == "start":
                    self._start_run(elem)
                else:
                    self._complete = True
                continue
            if event != "end" or parent is None:
                continue
            if tag == "host" and parent.getparent() is None and parent.tag == "nmaprun":
                problems: list[Problem] = host_problems
                if ports_in_host > MAX_PORTS_PER_HOST:
                    problems.append(
                        Problem(
                            stage=Stage.PARSE,
                            message=f"a <host> with {ports_in_host} <port> elements: only the first "
                            f"{MAX_PORTS_PER_HOST} were read",
                        )
                    )
                problems.extend(_repeated_ports(repeats, repeat_count))
                ports_in_host = repeat_count = 0
                port_keys.clear()
                repeats.clear()
                self._foreign_siblings(elem)
                host = self._host(elem, problems, context, early)
                context, context_read, early, host_problems = None, False, [], []
                _free(elem, parent)
                if host is not None:
                    self._hosts_read += 1
                    yield host, tuple(problems)
                else:
                    self.problems.extend(problems)
            elif tag == "finished" and parent.tag == "runstats":
                self._finished = dict(elem.attrib)
            elif tag in _TOP_LEVEL_NOISE and parent.getparent() is None:
                _free(elem, parent)
        if not self._run_attrs:
            root = parser.root.tag if parser.root is not None else "?"
            raise XmlError(f"not nmap XML: the root element is <{root}>, not <nmaprun>")
        if parser.root is not None:
            self._foreign_siblings(None, parser.root)

    def _start_run(self, elem: etree._Element) -> None:
        self._run_attrs = {k: v[:MAX_ATTRIBUTE_LENGTH] for k, v in elem.attrib.items()}
        self._started = self._epoch(self._run_attrs.get("start"), "nmaprun start")
        if elem.nsmap:
            self.problems.append(
                Problem(
                    stage=Stage.PARSE,
                    message=f"<nmaprun> declares XML namespaces {sorted(k or '' for k in elem.nsmap)}: nmap never does",
                )
            )

    def _foreign_siblings(self, elem: etree._Element | None, root: etree._Element | None = None) -> None:
        """Elements in a namespace, which nmap never writes, are named as problems, not skipped silently."""
        siblings = (
            list(root) if root is not None
            else list(elem.itersiblings(preceding=True)) if elem is not None
            else []
        )
        for sibling in siblings:
            tag = sibling.tag
            if isinstance(tag, str) and tag.startswith("{"):
                self.problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        message=f"an element in an unknown namespace was not read: <{etree.QName(tag).localname}> "
                        f"in {etree.QName(tag).namespace!r}",
                    )
                )

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

    def _epoch(self, value: str | None, what: str, problems: list[Problem] | None = None) -> dt.datetime | None:
        if value is None:
            return None
        stamp = _epoch(value)
        if stamp is None:
            (problems if problems is not None else self.problems).append(
                Problem(stage=Stage.PARSE, message=f"{what} is not a time nmap could have written: {value[:40]!r}")
            )
        return stamp

    def _context(
        self, elem: etree._Element, problems: list[Problem]
    ) -> tuple[str, str | None, dt.datetime | None] | None:
        """What every port of a host is read with: its address, its name, when it was scanned;
        None if the host has no valid IP address (so far)."""
        addresses = [a.get("addr", "") for a in elem.iterfind("address") if a.get("addrtype") in ("ipv4", "ipv6")]
        address = _ip(addresses[0]) if addresses else None
        if address is None:
            return None
        hostname = next(
            (h.get("name") for h in elem.iterfind("hostnames/hostname") if h.get("type") == "user"), None
        )
        scanned_at = self._epoch(elem.get("starttime"), "host starttime", problems) or self._started
        return address, hostname, scanned_at

    def _host(
        self,
        elem: etree._Element,
        problems: list[Problem],
        context: tuple[str, str | None, dt.datetime | None] | None = None,
        early: Iterable[PortRecord] = (),
    ) -> HostRecord | None:
        """The host's record; ``context`` and ``early`` are what ``_walk`` read while the host
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
            context = self._context(elem, problems)
            assert context is not None  # noqa: S101 - narrowing: the address was checked just above
        address, hostname, scanned_at = context
        status = elem.find("status")
        timed_out = elem.get("timedout") == "true"

        def the_rest() -> Iterator[PortRecord]:
            for port_el in list(elem.iterfind("ports/port")):
                port = self._port(address, hostname, scanned_at, port_el, problems)
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
                problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        address=address,
                        port=port.number,
                        message=f"port {port.number}/{port.transport} appears twice: only the first is read",
                    )
                )
                continue
            seen.add(key)
            ports.append(port)
        host = HostRecord(
            address=address,
            status=status.get("state", "") if status is not None else "",
            reason=status.get("reason", "") if status is not None else "",
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
                Problem(stage=Stage.HOST, address=address, message=f"host is down ({host.reason or 'no reply'})")
            )
        for port in host.open_ports:
            if port.inconclusive:
                problems.append(
                    Problem(
                        stage=Stage.EXCHANGE,
                        address=address,
                        port=port.number,
                        message=f"port {port.number} is inconclusive: {port.inconclusive}",
                    )
                )
        return host

    def _port(
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
                problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        address=address,
                        port=number,
                        message=f"more than {MAX_SCRIPTS_PER_PORT} scripts on one port: the rest were not read",
                    )
                )
                break
            scripts.setdefault(script_el.get("id", ""), script_el)

        def guarded(script_id: str, build: Callable[[etree._Element], T]) -> T | None:
            el = scripts.get(script_id)
            if el is None:
                return None
            try:
                return build(el)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                problems.append(
                    Problem(
                        stage=Stage.PARSE,
                        address=address,
                        port=number,
                        message=f"{script_id} output could not be read: {exc}",
                    )
                )
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
                def read_ehlo_here(el: etree._Element, raw: str = help_output) -> Capabilities | ExchangeFailed:
                    return read_ehlo(el, raw, before_tls=before_tls)

                ehlo = guarded(script_id, read_ehlo_here)
                if ehlo is None:
                    continue  # unreadable: smtp-commands, if it ran, is read instead
                read: Capabilities | ExchangeFailed = ehlo
            else:
                read = read_capabilities(script_id, script_el.get("output", ""), script_protocol, before_tls=before_tls)
            if isinstance(read, ExchangeFailed):
                inconclusive = read.reason
            else:
                capabilities = read
            break
        if state is PortState.OPEN and transport == "tcp" and capabilities is None and not has_tls:
            inconclusive = _why_inconclusive(service, protocol, inconclusive)
        else:
            inconclusive = ""
        return PortRecord(
            address=address,
            hostname=hostname,
            scanned_at=scanned_at,
            number=number,
            transport=transport,
            state=state,
            reason=state_el.get("reason", "") if state_el is not None else "",
            service=service,
            protocol=protocol,
            tls_mode=tls_mode,
            tls=tls,
            certificate=certificate,
            capabilities=capabilities,
            scripts=tuple(ScriptOutput(id=sid, output=el.get("output", "")) for sid, el in scripts.items()),
            inconclusive=inconclusive,
        )


def _certificate_and_complaints(elem: etree._Element) -> tuple[Certificate | None, tuple[str, ...]]:
    complaints: list[str] = []
    return read_certificate(elem, complaints.append), tuple(complaints)


def _is_top_level_host(elem: etree._Element | None) -> bool:
    if elem is None or elem.tag != "host":
        return False
    root = elem.getparent()
    return root is not None and root.tag == "nmaprun" and root.getparent() is None


def _repeated_ports(repeats: list[tuple[str, str]], count: int) -> list[Problem]:
    """Problems for the <port> elements that repeated one already read in the same host."""
    found = [
        Problem(
            stage=Stage.PARSE,
            port=_int(portid),
            message=f"port {portid[:20]!r}/{transport[:10]} appears twice: only the first is read",
        )
        for transport, portid in repeats
    ]
    if count > len(repeats):
        found.append(
            Problem(stage=Stage.PARSE, message=f"{count - len(repeats)} more repeated <port> elements were not read")
        )
    return found


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


def _free(elem: etree._Element, parent: etree._Element) -> None:
    """Drop what has been read: memory stays flat however many hosts follow."""
    elem.clear(keep_tail=False)
    while elem.getprevious() is not None:
        del parent[0]


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


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


def _open_path(path: str | os.PathLike[str]) -> IO[bytes]:
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
