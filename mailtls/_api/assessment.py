"""``Assessment``: results as they come, for the ``iter_`` entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..model.records import Problem, RunRecord
from ..model.report import Report, TargetResult

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
