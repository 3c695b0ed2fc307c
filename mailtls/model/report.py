"""Step 6 of the data flow: each requested target with its outcome, and the report that holds them.

A report is made of ``TargetResult``s, one per target the caller asked for (or per
host in a file of nmap XML), so every target is accounted for: assessed, or why
not. The report's hosts, findings and errors are read off them.
"""

from __future__ import annotations

import enum
import functools
from typing import TYPE_CHECKING

import attrs

from . import views
from .domain import DomainRecord
from .findings import Finding, Severity
from .records import HostRecord, Problem, RunRecord

if TYPE_CHECKING:
    import pandas


class Outcome(str, enum.Enum):
    """What became of one requested target."""

    #: At least one open mail port was read, and the rules were run on it.
    ASSESSED = "assessed"
    #: The host answered, but none of the requested ports is open.
    NO_MAIL_PORT = "no-mail-port"
    #: Ports are open, but no exchange with any of them could be read (see the problems).
    INCONCLUSIVE = "inconclusive"
    #: nmap found the host down.
    DOWN = "down"
    #: The name did not resolve.
    UNRESOLVED = "unresolved"
    #: The host, or the run it was in, ran out of time; what was seen before is kept.
    TIMED_OUT = "timed-out"
    #: The scan of this target failed; ``reason`` says how.
    FAILED = "failed"

    @property
    def answered(self) -> bool:
        """The target answered for its mail ports: assessed, or found down or without a mail
        port open. The others (inconclusive, unresolved, timed out, failed) say nothing about
        them: they are what the outputs list as not assessed, and the CLI exits 3 for."""
        return self in _ANSWERED


_ANSWERED = frozenset({Outcome.ASSESSED, Outcome.NO_MAIL_PORT, Outcome.DOWN})


@attrs.frozen
class TargetResult:
    """One requested target: its outcome, and what was found there."""

    #: The host as scanned: an address, or a DNS name (a range is listed address by address).
    target: str
    outcome: Outcome
    #: Why the target was not assessed, in words; empty when it was.
    reason: str = ""
    host: HostRecord | None = None
    findings: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    #: The caller's string this target came from, when it named a range (``127.0.0.0/30``).
    requested: str | None = None
    #: For a mail domain (``assess_domain``): what its DNS and MTA-STS policy said.
    domain: DomainRecord | None = None


def outcome_of(host: HostRecord) -> tuple[Outcome, str]:
    """A scanned host's outcome and the reason, from its record alone."""
    if host.timed_out:
        return Outcome.TIMED_OUT, "nmap gave up on the host (host timeout)"
    if host.status == "down":
        return Outcome.DOWN, f"host is down ({host.status_reason or 'no reply'})"
    opened = host.open_ports
    if not opened:
        return Outcome.NO_MAIL_PORT, "none of the scanned ports is open"
    if not host.assessable_ports:
        reasons = "; ".join(f"{p.number}: {p.inconclusive}" for p in opened)
        return Outcome.INCONCLUSIVE, f"no exchange could be read ({reasons})"
    return Outcome.ASSESSED, ""


def _finding_order(finding: Finding) -> tuple[int, str, int, str]:
    return (-finding.severity.rank, finding.host, finding.port or 0, finding.rule_id)


@attrs.frozen
class Report:
    """What ``assess``, ``assess_many`` and ``assess_xml`` return: every target with its outcome,
    the nmap runs behind them, and what failed on the way."""

    targets: tuple[TargetResult, ...] = ()
    #: Each nmap run (or file of nmap XML) the report was made from.
    runs: tuple[RunRecord, ...] = ()
    #: Problems that belong to no single target: nmap's complaints, a file cut short,
    #: a plugin that did not load.
    problems: tuple[Problem, ...] = ()

    @functools.cached_property
    def hosts(self) -> tuple[HostRecord, ...]:
        return tuple(t.host for t in self.targets if t.host is not None)

    @functools.cached_property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, worst first."""
        return tuple(sorted((f for t in self.targets for f in t.findings), key=_finding_order))

    @functools.cached_property
    def all_problems(self) -> tuple[Problem, ...]:
        """Everything that failed while the rest went on: the report's own ``problems``, then
        each target's."""
        return (*self.problems, *(p for t in self.targets for p in t.problems))

    @property
    def complete(self) -> bool:
        """Every run finished and nothing failed."""
        return all(r.complete for r in self.runs) and not self.all_problems

    def target(self, name: str) -> TargetResult:
        """The result for one target, by the name or address it was scanned as."""
        for result in self.targets:
            if result.target == name:
                return result
        raise KeyError(name)

    def at_least(self, severity: Severity | str) -> tuple[Finding, ...]:
        """The findings of this severity or worse."""
        floor = Severity(severity)
        return tuple(f for f in self.findings if f.severity >= floor)

    def by_rule(self, rule_id: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.rule_id == rule_id)

    def to_dataframe(self) -> pandas.DataFrame:
        """The findings as a pandas DataFrame, one row per finding, worst first (for notebooks):
        ``mailtls.to_dataframe(report)``, which needs ``pip install 'mailtls[pandas]'``."""
        frame: pandas.DataFrame = views.dataframe(self)
        return frame

    def _repr_html_(self) -> str | None:
        """The HTML report's summary, chart, matrix and findings, sized for a notebook (see ``views``)."""
        return views.html(self)
