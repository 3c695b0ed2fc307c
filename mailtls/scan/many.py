"""Many targets: batches of hosts per nmap run, several runs at once, on any executor.

nmap scans the hosts of one run in parallel, and each nmap process costs about 0.4 s
of CPU before it sends a packet, so targets are scanned in batches (up to
``MAX_BATCH`` hosts per run) rather than one run per host. Up to ``concurrency``
batches run at once, by default in threads of this process; any
``concurrent.futures.Executor`` can run them instead (a Dask ``distributed`` client's
``get_executor()`` spreads them over a cluster: each worker needs nmap, and
``scan_batch`` with what it takes and returns pickles).

With the built-in threads, each target is reported the moment its batch has finished
it; with another executor, when its whole batch returns.
"""

from __future__ import annotations

import concurrent.futures
import math
import queue
import threading
from collections.abc import Iterator, Sequence

from ..model.records import Problem, RunRecord, Stage
from ..model.report import Outcome
from .options import ScanOptions
from .plan import Batch, BatchResult, Scanned, scan_batch
from .targets import Target

#: Hosts per nmap run, at most. nmap starts every host of a run together (see runner.py),
#: so this is plenty for its parallelism, and few enough that one host that stalls nmap
#: holds up only its own batch: nmap's ssl-cert takes certificates under one global lock
#: per process, and a silent host keeps it for minutes (measured on the fleet, lab/fleet/).
MAX_BATCH = 64
def batches(targets: Sequence[Target], options: ScanOptions) -> list[Batch]:
    """The targets cut into batches: IPv4 and names apart from IPv6 (nmap runs one family
    at a time), and enough batches to keep ``options.concurrency`` runs busy."""
    batches: list[Batch] = []
    for family in (
        [t for t in targets if not t.is_ipv6],
        [t for t in targets if t.is_ipv6],
    ):
        if not family:
            continue
        size = min(MAX_BATCH, max(1, math.ceil(len(family) / options.concurrency)))
        for start in range(0, len(family), size):
            batches.append(Batch(tuple(family[start : start + size]), options))
    return batches


class ScanStream:
    """Every target of every batch, as each is scanned.

    Iterate it for ``Scanned`` targets; once the iteration ends, ``runs`` holds every
    nmap run and ``problems`` what went wrong with runs as a whole. A batch that fails
    (a worker that died, an exception) marks its own targets failed, never the others."""

    def __init__(
        self,
        batches: Sequence[Batch],
        *,
        concurrency: int,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.batches = list(batches)
        self.concurrency = concurrency
        self.executor = executor
        self.runs: list[RunRecord] = []
        self.problems: list[Problem] = []

    def __iter__(self) -> Iterator[Scanned]:
        if self.executor is None:
            return self._threads()
        return self._foreign(self.executor)

    def _collect(self, result: BatchResult) -> None:
        self.runs.extend(result.runs)
        self.problems.extend(result.problems)

    def _threads(self) -> Iterator[Scanned]:
        # Each batch reports its targets through a queue as it finishes them.
        arrivals: queue.Queue[Scanned | _BatchEnd] = queue.Queue()
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(self.batches) or 1), thread_name_prefix="mailtls-nmap"
        ) as pool:
            stop = threading.Event()
            for index, batch in enumerate(self.batches):
                pool.submit(_run_reporting, batch, index, arrivals, stop)
            open_batches = len(self.batches)
            owner = {t: i for i, b in enumerate(self.batches) for t in b.targets}
            seen: dict[int, set[Target]] = {i: set() for i in range(len(self.batches))}
            try:
                while open_batches:
                    item = arrivals.get()
                    if isinstance(item, _BatchEnd):
                        open_batches -= 1
                        if item.result is not None:
                            self._collect(item.result)
                        yield from _failed(self.batches[item.index], seen[item.index], item.error)
                        continue
                    seen[owner[item.target]].add(item.target)
                    yield item
            finally:
                stop.set()

    def _foreign(self, executor: concurrent.futures.Executor) -> Iterator[Scanned]:
        futures = {executor.submit(scan_batch, batch): batch for batch in self.batches}
        for future in concurrent.futures.as_completed(futures):
            batch = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died, the result did not come back...
                yield from _failed(batch, set(), f"{type(exc).__name__}: {exc}")
                continue
            self._collect(result)
            yielded = set()
            for item in result.scanned:
                yielded.add(item.target)
                yield item
            yield from _failed(batch, yielded, "")


class _BatchEnd:
    def __init__(self, index: int, result: BatchResult | None, error: str) -> None:
        self.index = index
        self.result = result
        self.error = error


def _run_reporting(batch: Batch, index: int, arrivals: queue.Queue[Scanned | _BatchEnd], stop: threading.Event) -> None:
    if stop.is_set():  # the caller stopped iterating: start no more nmap runs
        arrivals.put(_BatchEnd(index, None, "not started: the caller stopped reading results"))
        return
    try:
        result = scan_batch(batch, on_scanned=arrivals.put)
    except Exception as exc:  # noqa: BLE001 - the batch must end with an answer, whatever went wrong
        arrivals.put(_BatchEnd(index, None, f"{type(exc).__name__}: {exc}"))
        return
    arrivals.put(_BatchEnd(index, result, ""))


def _failed(batch: Batch, seen: set[Target], error: str) -> Iterator[Scanned]:
    """Every target of the batch not yet reported, as failed: every target is accounted for."""
    for target in batch.targets:
        if target in seen:
            continue
        reason = f"its batch failed: {error}" if error else "its batch ended without reporting it"
        yield Scanned(
            target,
            None,
            (Problem(stage=Stage.TARGET, address=target.value, message=reason),),
            Outcome.FAILED,
            reason,
        )
