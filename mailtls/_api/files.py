"""Files of nmap XML: ``assess_xml`` and ``iter_assess_xml``.

Each host goes through the rules as soon as it has been read. A large file is read by
several processes at once (``nmapxml/parallel.py``), each judging its hosts with what
``_Judge`` carries there; the results come in file order all the same.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import attrs

from .._errors import XmlError
from ..model.records import HostRecord, Problem
from ..model.report import Report, TargetResult
from ..nmapxml import parallel
from ..nmapxml.reader import ScanReader, XmlSource
from ..rules.engine import assess_host
from ..rules.registry import Registry
from ..scan.options import check_concurrency
from .assessment import Assessment


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

    A large file (a path, over ``nmapxml.parallel.PARALLEL_MIN_BYTES``) is read by
    ``workers`` processes at once (default: one per CPU), each taking runs of whole hosts,
    when the file can be cut safely and the registry can be sent to another process; the
    results come in file order all the same. ``workers=1`` reads in this process only."""
    xml = _xml_of(source)
    rules = registry if registry is not None else Registry.default()
    count = (os.cpu_count() or 1) if workers is None else check_concurrency(workers)
    judge = _Judge(registry, strict)
    if count > 1 and parallel.worth_splitting(xml, judge):
        cut = parallel.plan(xml)
        if cut is not None and len(cut.pieces) > 1:
            return _in_parallel(os.fspath(xml), cut, judge, rules, count)
    reader = ScanReader(xml)

    def results() -> Iterator[TargetResult]:
        for host, problems in reader:
            yield assess_host(host, rules, problems=problems, strict=strict)

    return Assessment(results(), lambda: ([reader.run], [*reader.problems, *rules.problems]))


@attrs.frozen
class _Judge:
    """The rules applied to each host in a worker process: the caller's registry, or the
    default one, which each worker builds for itself (its plugins included)."""

    registry: Registry | None
    strict: bool

    def __call__(self, host: HostRecord, problems: tuple[Problem, ...]) -> TargetResult:
        rules = self.registry if self.registry is not None else _default_registry()
        return assess_host(host, rules, problems=problems, strict=self.strict)


@functools.cache
def _default_registry() -> Registry:
    return Registry.default()


def _in_parallel(path: str, cut: parallel.SplitPlan, judge: _Judge, rules: Registry, workers: int) -> Assessment:
    outside = ScanReader(cut.outside)
    problems: list[Problem] = []

    def results() -> Iterator[TargetResult]:
        for piece in parallel.read_pieces(path, cut, judge, workers):
            problems.extend(piece.problems)
            yield from piece.results
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
