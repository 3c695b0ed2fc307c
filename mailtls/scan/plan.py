"""The two-pass plan: how one batch of targets is scanned.

A batch (one host or hundreds) is scanned in two nmap runs at most, because nmap's
service detection (``-sV``) costs about six seconds per port even on a server that
announces itself at once (the NULL probe waits out its full 6 s after a soft match;
more on implicit-TLS ports):

1. the TLS and capability scripts without ``-sV``, on every host of the batch: nmap
   runs them by port number on the standard mail ports, and a capability script that
   answers proves the protocol spoken there;
2. ``-sV`` with the same scripts, only on the hosts and open non-standard ports where
   the first pass learned nothing (there the scripts only run once -sV has named the
   service). A standard mail port where nothing answered stays inconclusive.

The findings are the same as one ``-sV`` pass over every port; the tests check that
against recorded single-pass scans of the lab. A host whose ports were all confirmed in
the first pass is reported as soon as nmap finishes it. Whatever fails (a run killed
at the deadline, an nmap that exits with an error) costs only the targets it concerns,
and the first pass's results survive a failing second pass.

``scan_batch`` and what it takes and returns are plain picklable values, so a batch
can run in another process or on another machine (``concurrent.futures``, Dask).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable

import attrs

from ..model.records import HostRecord, PortRecord, Problem, RunRecord, Stage
from ..model.report import Outcome
from ..protocols import PORT_PROTOCOL
from .options import ScanOptions
from .runner import GRACE, NmapJob, NmapRun
from .targets import Target


@attrs.frozen
class Batch:
    """Hosts that share one nmap run per pass, and how they are scanned (the timeout is for
    each host, both passes together)."""

    targets: tuple[Target, ...]
    options: ScanOptions


@attrs.frozen
class Scanned:
    """One target of a batch after scanning: its host as nmap saw it, or why there is none."""

    target: Target
    host: HostRecord | None = None
    problems: tuple[Problem, ...] = ()
    #: Set only when there is no host: did not resolve, failed, timed out.
    outcome: Outcome | None = None
    reason: str = ""


@attrs.frozen
class BatchResult:
    scanned: tuple[Scanned, ...] = ()
    runs: tuple[RunRecord, ...] = ()
    #: What went wrong with a run as a whole (nmap's exit status and stderr).
    problems: tuple[Problem, ...] = ()


def scan_batch(batch: Batch, on_scanned: Callable[[Scanned], None] | None = None) -> BatchResult:
    """Scan one batch in (at most) two passes; ``on_scanned`` hears of each target as it is done."""
    deadline = time.monotonic() + batch.options.timeout + GRACE
    done: list[Scanned] = []

    def finish(item: Scanned) -> None:
        done.append(item)
        if on_scanned is not None:
            on_scanned(item)

    first = NmapRun(NmapJob(batch.targets, batch.options), deadline=deadline)
    matcher = _Matcher(batch.targets)
    pending: dict[Target, tuple[HostRecord, tuple[Problem, ...], tuple[int, ...]]] = {}
    for host, problems in first:
        target = matcher.claim(host)
        if target is None:
            continue
        unconfirmed = _unconfirmed(host)
        if unconfirmed and not host.timed_out:
            pending[target] = (host, problems, unconfirmed)
        else:
            finish(Scanned(target, host, problems))
    runs = [first.run]
    run_problems = list(first.problems)
    for target in matcher.unclaimed():
        finish(_missing(target, first, run_problems))

    if pending:
        remaining = deadline - time.monotonic() - GRACE
        if remaining < 1:
            for target, (host, problems, unconfirmed) in pending.items():
                late = Problem(
                    stage=Stage.HOST,
                    address=host.address,
                    message=f"host timeout reached before service detection on port(s) {_ports(unconfirmed)}",
                )
                unidentified, kept = _unidentified(host, problems, unconfirmed, "the host timeout came before -sV")
                finish(Scanned(target, unidentified, (*kept, late)))
            return BatchResult(tuple(done), tuple(runs), tuple(run_problems))
        wanted = tuple(sorted({p for (_, _, ports) in pending.values() for p in ports}))
        again = attrs.evolve(batch.options, ports=wanted, timeout=remaining)
        second = NmapRun(NmapJob(tuple(pending), again, service_detection=True), deadline=deadline)
        matcher = _Matcher(tuple(pending))
        for detailed, more in second:
            target = matcher.claim(detailed)
            if target is None or target not in pending:
                continue
            host, problems, unconfirmed = pending.pop(target)
            merged = _merge(host, detailed, unconfirmed)
            finish(Scanned(target, merged, (*_superseded(problems, host, merged), *more)))
        runs.append(second.run)
        run_problems += second.problems
        for target, (host, problems, unconfirmed) in pending.items():
            lost = Problem(
                stage=Stage.SCAN,
                address=host.address,
                message=f"service detection on port(s) {_ports(unconfirmed)} did not report this host; "
                "the first pass's results are kept",
            )
            unidentified, kept = _unidentified(host, problems, unconfirmed, "service detection (-sV) did not finish")
            finish(Scanned(target, unidentified, (*kept, lost)))
    return BatchResult(tuple(done), tuple(runs), tuple(run_problems))


def _unconfirmed(host: HostRecord) -> tuple[int, ...]:
    """Open non-standard ports where no script answered: -sV may tell what they are.

    On a standard mail port the first pass already ran that protocol's capability script
    and the TLS scripts; if none of them got an answer, the port is inconclusive (with what
    nmap saw), and -sV is not tried: it could at most name a stranger protocol there, and
    against a silent or refusing server it costs tens of seconds per port, or a whole
    batch's time when nmap's ssl-cert waits on such a port under its global lock."""
    return tuple(
        p.number
        for p in host.open_ports
        if p.number not in PORT_PROTOCOL
        and p.capabilities is None
        and p.tls is None
        and p.certificate is None
        and p.service.method != "probed"
    )


def _merge(first: HostRecord, second: HostRecord, ports: tuple[int, ...]) -> HostRecord:
    """The first pass's host, with each port the second pass looked at again replaced by its record."""
    detailed = {p.number: p for p in second.ports if p.transport == "tcp" and p.number in ports}
    merged = tuple(detailed.get(p.number, p) if p.transport == "tcp" else p for p in first.ports)
    return attrs.evolve(first, ports=merged, timed_out=first.timed_out or second.timed_out)


def _superseded(problems: tuple[Problem, ...], first: HostRecord, merged: HostRecord) -> tuple[Problem, ...]:
    """The first pass's problems, less its exchange failures on ports the second pass read
    again: the second pass reports those itself (once, and only if they still fail)."""
    replaced = {p.number for p in merged.ports if first.port(p.number) is not p}
    return tuple(p for p in problems if not (p.stage is Stage.EXCHANGE and p.port in replaced))


def _unidentified(
    host: HostRecord, problems: tuple[Problem, ...], ports: Iterable[int], why: str
) -> tuple[HostRecord, tuple[Problem, ...]]:
    """The host with these ports inconclusive for want of -sV, and its problems saying so.

    On these non-standard ports the first pass ran no script at all (nmap picks scripts by
    port number or by the service -sV names), so "not identified" is the whole truth."""
    numbers = set(ports)
    reason = f"not identified: {why}"

    def mark(port: PortRecord) -> PortRecord:
        return attrs.evolve(port, inconclusive=reason) if port.number in numbers and port.is_open else port

    marked = attrs.evolve(host, ports=tuple(mark(p) for p in host.ports))
    kept = tuple(p for p in problems if not (p.stage is Stage.EXCHANGE and p.port in numbers))
    said = tuple(
        Problem(
            stage=Stage.EXCHANGE,
            address=host.address,
            port=p.number,
            message=f"port {p.number} is inconclusive: {reason}",
        )
        for p in marked.ports
        if p.number in numbers and p.is_open
    )
    return marked, (*kept, *said)


def _missing(target: Target, run: NmapRun, run_problems: list[Problem]) -> Scanned:
    """A target nmap said nothing about: find out why from the run."""
    unresolved = f'Failed to resolve "{target.value}"'
    said = [p for p in run_problems if unresolved in p.message]
    if said:
        for problem in said:
            run_problems.remove(problem)
        problem = Problem(stage=Stage.TARGET, address=target.value, message=f"{target.value} did not resolve")
        return Scanned(target, None, (problem,), Outcome.UNRESOLVED, "the name did not resolve")
    if run.killed:
        reason = "nmap's run was stopped at its deadline before it reported this target"
        problem = Problem(stage=Stage.TARGET, address=target.value, message=reason)
        return Scanned(target, None, (problem,), Outcome.TIMED_OUT, reason)
    why = next((p.message for p in run_problems if p.stage is Stage.SCAN), "no reason given")
    reason = f"nmap reported nothing for this target ({why})"
    problem = Problem(stage=Stage.TARGET, address=target.value, message=reason)
    return Scanned(target, None, (problem,), Outcome.FAILED, reason)


def _ports(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _address_key(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        return value


class _Matcher:
    """Pairs the hosts in nmap's XML with the targets of the run: names by nmap's "user"
    hostname, addresses by address (nmap reports the same address once per target)."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self._names: dict[str, Target] = {}
        self._addresses: dict[str, Target] = {}
        for target in targets:
            if target.hostname:
                self._names[target.hostname] = target
            else:
                self._addresses[_address_key(target.value)] = target
        self._claimed: set[Target] = set()
        self._all = [*self._names.values(), *self._addresses.values()]

    def claim(self, host: HostRecord) -> Target | None:
        target = None
        if host.hostname:
            target = self._names.get(host.hostname.lower().rstrip("."))
        if target is None:
            target = self._addresses.get(_address_key(host.address))
        if target is None or target in self._claimed:
            return None
        self._claimed.add(target)
        return target

    def unclaimed(self) -> list[Target]:
        return [t for t in self._all if t not in self._claimed]
