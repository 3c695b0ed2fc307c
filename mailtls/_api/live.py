"""Live scans: ``assess``, ``assess_many`` and ``iter_assess``, the steps put together.

Targets are checked (``scan/targets.py``), the options built once (``ScanOptions``) and
handed to the batches; each target goes through the rules as soon as nmap has finished
it (``judge``) and becomes a ``TargetResult``. ``iter_assess`` hands those over one by
one and holds nothing; the others collect a ``Report``.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Iterator
from typing import Any

from ..model.report import Report, TargetResult
from ..rules.engine import assess_host
from ..rules.registry import Registry
from ..scan.many import ScanStream, batches
from ..scan.options import ScanOptions
from ..scan.plan import Scanned
from ..scan.runner import find_nmap
from ..scan.targets import Target, parse_target, parse_targets
from .assessment import Assessment, Progress


def assess(
    target: str, *, registry: Registry | None = None, options: ScanOptions | None = None, **fields: Any
) -> Report:
    """Scan one host with nmap and report its mail services' exposure.

    ``target`` is one IPv4/IPv6 address or DNS name; anything else raises
    ``TargetError`` before nmap starts. The keywords are ``ScanOptions``'s fields
    (``ports``, ``timeout``, ``open_relay``, ``strict``...), over ``options`` if it is
    given; a value that cannot work raises before nmap starts. ``registry`` defaults to
    ``Registry.default()``. This is ``assess_many`` with one target.
    """
    checked = parse_target(target)
    return _live([checked], ScanOptions.of(options, fields), registry, None, None).report()


def assess_many(
    targets: Iterable[str] | str,
    *,
    registry: Registry | None = None,
    executor: concurrent.futures.Executor | None = None,
    progress: Progress | None = None,
    options: ScanOptions | None = None,
    **fields: Any,
) -> Report:
    """Scan many hosts and report on each: addresses, names and CIDR ranges, deduplicated.

    Hosts are scanned in batches, one nmap run per batch and pass, up to ``concurrency``
    runs at once (a ``ScanOptions`` field, like the other keywords: see ``assess``).
    ``executor`` runs the batches elsewhere: any ``concurrent.futures.Executor``, such as
    a Dask client's ``get_executor()``. ``progress(done, total)`` is called as targets
    finish. Every target appears in ``Report.targets`` with its outcome, and one target's
    failure never costs another's results.
    """
    found = iter_assess(targets, registry=registry, executor=executor, progress=progress, options=options, **fields)
    return found.report()


def iter_assess(
    targets: Iterable[str] | str,
    *,
    registry: Registry | None = None,
    executor: concurrent.futures.Executor | None = None,
    progress: Progress | None = None,
    options: ScanOptions | None = None,
    **fields: Any,
) -> Assessment:
    """``assess_many``, one ``TargetResult`` at a time as each target is done, for callers
    who stream results into their own store. Every argument is checked before nmap starts."""
    checked = parse_targets(targets)
    return _live(checked, ScanOptions.of(options, fields), registry, executor, progress)


def scan(
    targets: list[Target], options: ScanOptions, executor: concurrent.futures.Executor | None
) -> ScanStream:
    """Every target scanned, in batches; nothing judged yet."""
    if executor is None:
        find_nmap()  # a missing nmap is the caller's to fix: say so before anything starts
    return ScanStream(batches(targets, options), concurrency=options.concurrency, executor=executor)


def _live(
    targets: list[Target],
    options: ScanOptions,
    registry: Registry | None,
    executor: concurrent.futures.Executor | None,
    progress: Progress | None,
) -> Assessment:
    stream = scan(targets, options, executor)
    rules = registry if registry is not None else Registry.default()
    total = len(targets)

    def results() -> Iterator[TargetResult]:
        for done, scanned in enumerate(stream, start=1):
            yield judge(scanned, rules, strict=options.strict)
            if progress is not None:
                progress(done, total)

    return Assessment(
        results(), lambda: (stream.runs, [*stream.problems, *rules.problems]), order=(t.value for t in targets)
    )


def judge(
    scanned: Scanned, registry: Registry, *, strict: bool, name: str | None = None, domain: str | None = None
) -> TargetResult:
    """One scanned target through the rules, reported as ``name`` (default: the target as
    scanned); ``domain`` is the mail domain it serves, named on every finding."""
    target = scanned.target
    if scanned.host is None:
        assert scanned.outcome is not None  # noqa: S101 - narrowing: a scan without a host has an outcome
        return TargetResult(
            target=name or target.value,
            outcome=scanned.outcome,
            reason=scanned.reason,
            problems=scanned.problems,
            requested=target.requested,
        )
    return assess_host(
        scanned.host,
        registry,
        problems=scanned.problems,
        target=name or target.value,
        requested=target.requested,
        domain=domain,
        strict=strict,
    )
