"""Step 3 of the data flow: nmap's XML becomes records. ``nmapxml/`` is the only code that reads XML.

The XML is read as a stream (``lxml.etree.iterparse``), one ``<host>`` at a time,
with entity resolution, DTD loading and network access all off, so a file from
an untrusted source can neither expand entities nor make the parser fetch
anything. Each host element is freed once its record is built (by ``hosts.py``, which
knows what nmap's output means), and every count a hostile document could inflate is
bounded here.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from typing import IO, Union

from lxml import etree

from .._errors import XmlError
from ..model.records import HostRecord, PortRecord, Problem, RunRecord, ScanRecord, Stage
from .hosts import Context, HostReader, as_int, epoch

XmlSource = Union[bytes, str, "os.PathLike[str]", IO[bytes]]

#: A host as read, with what went wrong while reading it.
HostRead = tuple[HostRecord, tuple[Problem, ...]]

#: Bounds on what one document may hold, so that a hostile file costs linear time and
#: bounded memory. nmap itself never comes near them: a host has at most 65,535 ports
#: per transport (and nmap folds all but a few of one state into <extraports>), and
#: nmap's own attribute values are short. A <port> element held until its host ends
#: costs about 3 KB, so 65,535 of them stay near 200 MB.
MAX_PORTS_PER_HOST = 65535
MAX_ATTRIBUTE_LENGTH = 1 << 20
#: Repeated <port> elements named one by one in a host's problems; the rest are counted.
MAX_REPORTED_DUPLICATES = 20

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
        self._hosts = HostReader()

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
        tags = ("nmaprun", "host", "port", "finished", *_TOP_LEVEL_NOISE)
        # Every way a document could reach outside the file, or grow past libxml2's limits, is off.
        safe = {"resolve_entities": False, "load_dtd": False, "no_network": True, "huge_tree": False}
        parser = etree.iterparse(
            self._stream, events=("start", "end"), tag=tags, remove_comments=True, remove_pis=True, **safe
        )
        ports_in_host = repeat_count = 0
        port_keys: set[tuple[str, str]] = set()
        repeats: list[tuple[str, str]] = []
        # The host being read: where its ports are read as they end (see below).
        context: Context | None = None
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
                                    context, context_read = self._hosts.context(host_el, host_problems), True
                                if context is not None:
                                    address, hostname, scanned_at = context
                                    port = self._hosts.port(address, hostname, scanned_at, elem, host_problems)
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
                host = self._hosts.host(elem, problems, context, early)
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
        self._started = self._hosts.started = epoch(self._run_attrs.get("start"), "nmaprun start", self.problems)
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
            port=as_int(portid),
            message=f"port {portid[:20]!r}/{transport[:10]} appears twice: only the first is read",
        )
        for transport, portid in repeats
    ]
    if count > len(repeats):
        found.append(
            Problem(stage=Stage.PARSE, message=f"{count - len(repeats)} more repeated <port> elements were not read")
        )
    return found


def _free(elem: etree._Element, parent: etree._Element) -> None:
    """Drop what has been read: memory stays flat however many hosts follow."""
    elem.clear(keep_tail=False)
    while elem.getprevious() is not None:
        del parent[0]


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


