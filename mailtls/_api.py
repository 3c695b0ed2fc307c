"""The public entry points: the steps put together, target → nmap run → XML → records →
rules → findings → report.

Live scans (``assess``, ``assess_many``, ``iter_assess``) and files of nmap XML
(``assess_xml``, ``iter_assess_xml``) end the same way: each host goes through the
rules as soon as it has been read, and becomes a ``TargetResult``. The ``iter_``
forms hand those over one by one and hold nothing; the others collect a ``Report``.
"""

from __future__ import annotations

import concurrent.futures
import os
import pickle
from collections.abc import Callable, Iterable, Iterator

from ._errors import XmlError
from ._parallel import assess_pieces
from .model.records import Problem, RunRecord
from .model.report import Report, TargetResult
from .nmapxml import split
from .nmapxml.reader import ScanReader, XmlSource
from .rules.engine import assess_host
from .rules.registry import Registry
from .scan.many import ScanStream, batches, check_concurrency
from .scan.plan import DEFAULT_TIMEOUT, Scanned
from .scan.runner import find_nmap
from .scan.targets import Target, parse_ports, parse_target, parse_targets, parse_timeout

#: ``progress(done, total)``: called in the caller's thread each time a target is done.
Progress = Callable[[int, int], object]


class Assessment:
    """Results as they come, one ``TargetResult`` per target (iterate once).

    Once the iteration has ended, ``runs`` holds each nmap run (or the file read) and
    ``problems`` what concerned no single target; ``report()`` collects everything into
    a ``Report`` instead (holding every result, so use it or the iteration, not both)."""

    def __init__(
        self,
        results: Iterator[TargetResult],
        finish: Callable[[], tuple[list[RunRecord], list[Problem]]],
        order: Iterable[str] = (),
    ) -> None:
        self._results = results
        self._finish = finish
        self._order = {target: index for index, target in enumerate(order)}
        self.runs: tuple[RunRecord, ...] = ()
        self.problems: tuple[Problem, ...] = ()

    def __iter__(self) -> Iterator[TargetResult]:
        yield from self._results
        runs, problems = self._finish()
        self.runs, self.problems = tuple(runs), tuple(problems)

    def report(self) -> Report:
        """Everything, collected; targets in the order they were asked for (or read)."""
        targets = sorted(self, key=lambda t: self._order.get(t.target, len(self._order)))
        return Report(targets=tuple(targets), runs=self.runs, problems=self.problems)


def assess(
    target: str,
    *,
    ports: Iterable[int] | None = None,
    timeout: float | None = None,
    registry: Registry | None = None,
    open_relay: bool = False,
    strict: bool = False,
) -> Report:
    """Scan one host with nmap and report its mail services' exposure.

    ``target`` is one IPv4/IPv6 address or DNS name; anything else raises
    ``TargetError`` before nmap starts. ``ports`` defaults to 25, 110, 143, 465,
    587, 993, 995. ``timeout`` (seconds, default 600) bounds nmap's time on the
    host; a host that runs over is reported with whatever was found before.
    ``registry`` defaults to ``Registry.default()``.

    ``open_relay=True`` also runs nmap's ``smtp-open-relay`` on SMTP ports (rule
    MT401). It sends test mail transactions to the server, so it is off unless
    asked for. ``strict=True`` raises a failing rule's exception instead of
    recording it in ``Report.errors``. This is ``assess_many`` with one target.
    """
    checked = parse_target(target)
    return _live([checked], ports, timeout, registry, open_relay, 1, None, None, strict).report()


def assess_many(
    targets: Iterable[str] | str,
    *,
    ports: Iterable[int] | None = None,
    timeout: float | None = None,
    registry: Registry | None = None,
    open_relay: bool = False,
    concurrency: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> Report:
    """Scan many hosts and report on each: addresses, names and CIDR ranges, deduplicated.

    Hosts are scanned in batches, one nmap run per batch and pass, up to
    ``concurrency`` runs at once (default: the number of CPUs). ``executor`` runs the
    batches elsewhere: any ``concurrent.futures.Executor``, such as a Dask client's
    ``get_executor()``. ``progress(done, total)`` is called as targets finish. Every
    target appears in ``Report.targets`` with its outcome, and one target's failure
    never costs another's results. The other options are ``assess``'s.
    """
    return iter_assess(
        targets,
        ports=ports,
        timeout=timeout,
        registry=registry,
        open_relay=open_relay,
        concurrency=concurrency,
        executor=executor,
        progress=progress,
        strict=strict,
    ).report()


def iter_assess(
    targets: Iterable[str] | str,
    *,
    ports: Iterable[int] | None = None,
    timeout: float | None = None,
    registry: Registry | None = None,
    open_relay: bool = False,
    concurrency: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> Assessment:
    """``assess_many``, one ``TargetResult`` at a time as each target is done, for callers
    who stream results into their own store. Every argument is checked before nmap starts."""
    checked = parse_targets(targets)
    return _live(checked, ports, timeout, registry, open_relay, concurrency, executor, progress, strict)


def _live(
    targets: list[Target],
    ports: Iterable[int] | None,
    timeout: float | None,
    registry: Registry | None,
    open_relay: bool,
    concurrency: int | None,
    executor: concurrent.futures.Executor | None,
    progress: Progress | None,
    strict: bool,
) -> Assessment:
    port_list = parse_ports(ports)
    seconds = parse_timeout(timeout, DEFAULT_TIMEOUT)
    workers = check_concurrency(concurrency)
    if executor is None:
        find_nmap()  # a missing nmap is the caller's to fix: say so before anything starts
    rules = registry if registry is not None else Registry.default()
    stream = ScanStream(
        batches(targets, port_list, timeout=seconds, open_relay=bool(open_relay), concurrency=workers),
        concurrency=workers,
        executor=executor,
    )
    total = len(targets)

    def results() -> Iterator[TargetResult]:
        for done, scanned in enumerate(stream, start=1):
            yield _judge(scanned, rules, strict)
            if progress is not None:
                progress(done, total)

    return Assessment(
        results(), lambda: (stream.runs, [*stream.problems, *rules.problems]), order=(t.value for t in targets)
    )


def _judge(scanned: Scanned, registry: Registry, strict: bool) -> TargetResult:
    target = scanned.target
    if scanned.host is None:
        assert scanned.outcome is not None  # noqa: S101 - narrowing: a scan without a host has an outcome
        return TargetResult(
            target=target.value,
            outcome=scanned.outcome,
            reason=scanned.reason,
            problems=scanned.problems,
            requested=target.requested,
        )
    return assess_host(
        scanned.host,
        registry,
        problems=scanned.problems,
        target=target.value,
        requested=target.requested,
        strict=strict,
    )


def assess_xml(
    source: XmlSource | object, *, registry: Registry | None = None, strict: bool = False, workers: int | None = None
) -> Report:
    """Report on nmap XML you already have: bytes, a str of XML, a path, a binary file, or a
    python-nmap ``PortScanner`` that has run a scan.

    For the full set of findings the scan should have run the scripts that
    ``assess`` runs (``ssl-enum-ciphers``, ``ssl-cert``, ``smtp-commands``,
    ``imap-capabilities``, ``pop3-capabilities``) with ``-sV``. ``workers``: see
    ``iter_assess_xml``.
    """
    return iter_assess_xml(source, registry=registry, strict=strict, workers=workers).report()


def iter_assess_xml(
    source: XmlSource | object, *, registry: Registry | None = None, strict: bool = False, workers: int | None = None
) -> Assessment:
    """``assess_xml`` host by host: each host is read, judged and handed over, and nothing is
    kept, so memory stays flat however large the file.

    A large file (a path, over ``PARALLEL_MIN_BYTES``) is read by ``workers`` processes at
    once (default: one per CPU), each taking runs of whole hosts, when the file can be cut
    safely and the registry can be sent to another process; the results come in file
    order all the same. ``workers=1`` reads in this process only."""
    xml = _xml_of(source)
    rules = registry if registry is not None else Registry.default()
    count = (os.cpu_count() or 1) if workers is None else check_concurrency(workers)
    if count > 1 and isinstance(xml, (str, os.PathLike)) and _is_large_file(xml) and _picklable(registry, strict):
        cut = split.plan(xml)
        if cut is not None and len(cut.pieces) > 1:
            return _parallel_xml(os.fspath(xml), cut, registry, rules, strict, count)
    reader = ScanReader(xml)

    def results() -> Iterator[TargetResult]:
        for host, problems in reader:
            yield assess_host(host, rules, problems=problems, strict=strict)

    return Assessment(results(), lambda: ([reader.run], [*reader.problems, *rules.problems]))


#: Files smaller than this are read in the calling process: starting others costs more.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


def _is_large_file(xml: str | os.PathLike[str]) -> bool:
    if isinstance(xml, str) and xml.lstrip().startswith("<"):
        return False
    try:
        return os.path.getsize(xml) >= PARALLEL_MIN_BYTES
    except OSError:
        return False  # the reader will say what is wrong with the path


def _picklable(registry: Registry | None, strict: bool) -> bool:
    if registry is None:
        return True  # each process builds the default registry itself
    try:
        pickle.dumps(registry)
    except Exception:  # noqa: BLE001 - pickling can fail in any way (custom __reduce__...): then not picklable
        return False  # rules defined in __main__, lambdas...: read in this process
    return True


def _parallel_xml(
    path: str, cut: split.SplitPlan, registry: Registry | None, rules: Registry, strict: bool, workers: int
) -> Assessment:
    outside = ScanReader(cut.outside)
    problems: list[Problem] = []

    def results() -> Iterator[TargetResult]:
        for found, trouble in assess_pieces(path, cut, registry, strict, workers):
            problems.extend(trouble)
            yield from found
        for _ in outside:  # the header and tail alone: the run's details, and whether it is complete
            pass

    return Assessment(results(), lambda: ([outside.run], [*problems, *outside.problems, *rules.problems]))


def _xml_of(source: XmlSource | object) -> XmlSource:
    """nmap XML from what the caller has; a python-nmap ``PortScanner`` gives its last run's."""
    last_output = getattr(source, "get_nmap_last_output", None)
    if last_output is None or not callable(last_output):
        return source  # type: ignore[return-value]
    xml = last_output()
    data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml or b"")
    # Before its first scan, a PortScanner holds the output of its `nmap -V` probe.
    if not data.lstrip().startswith(b"<"):
        raise XmlError("this python-nmap PortScanner has not run a scan yet: call its scan() first")
    return data
