"""Two reports compared, for scheduled scans: what is new, what was fixed, what changed.

A finding's identity is its host, port and rule id. A finding of the old report that the
new one lacks is *resolved* only if the new report really looked again: its host was
assessed (or found with no mail port open) and the port was not inconclusive. Otherwise
it is *unverified*: "not scanned this time" is never reported as "fixed".
"""

from __future__ import annotations

import attrs

from . import views
from .findings import Finding, Severity
from .report import Outcome, Report, TargetResult

#: Outcomes after which a missing finding means the problem is gone: the host answered
#: and every open mail port was read (or none was open).
_LOOKED = frozenset({Outcome.ASSESSED, Outcome.NO_MAIL_PORT})

Identity = tuple[str, "int | None", str]


def identity(finding: Finding) -> Identity:
    """What makes two findings "the same finding" across scans: host, port, rule id."""
    return (finding.host, finding.port, finding.rule_id)


@attrs.frozen
class Change:
    """A finding present in both reports with another severity or summary."""

    old: Finding
    new: Finding

    @property
    def severity(self) -> Severity:
        return self.new.severity


@attrs.frozen
class Diff:
    """What ``mailtls.diff(old, new)`` returns. Every tuple is ordered worst first."""

    #: Findings of the new report that the old one did not have.
    new: tuple[Finding, ...] = ()
    #: Findings of the old report that the new one looked for again and did not find.
    resolved: tuple[Finding, ...] = ()
    #: Same host, port and rule, but another severity or summary.
    changed: tuple[Change, ...] = ()
    #: Findings of the old report about a host or port the new report could not look at
    #: (not scanned, down, failed, inconclusive): neither confirmed nor resolved.
    unverified: tuple[Finding, ...] = ()
    #: How many findings are the same in both.
    unchanged: int = 0
    #: Targets assessed in the old report but not in the new one, and the other way round.
    only_in_old: tuple[str, ...] = ()
    only_in_new: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing new, resolved, changed or unverified, and the same targets."""
        return not (
            self.new or self.resolved or self.changed or self.unverified or self.only_in_old or self.only_in_new
        )

    def at_least(self, severity: Severity | str) -> tuple[Finding, ...]:
        """New findings, and changed ones as they are now, of this severity or worse (for ``--fail-on``)."""
        floor = Severity(severity)
        return tuple(f for f in (*self.new, *(c.new for c in self.changed)) if f.severity >= floor)

    def _repr_html_(self) -> str | None:
        """The diff as the HTML report shows it, in a notebook (see ``views``)."""
        return views.html(self)


def _order(finding: Finding) -> tuple[int, str, int, str]:
    return (-finding.severity.rank, finding.host, finding.port or 0, finding.rule_id)


def _looked_at(results: dict[str, TargetResult]) -> dict[str, TargetResult]:
    """host address -> result, for the targets whose host was really looked at."""
    looked = {}
    for result in results.values():
        if result.outcome in _LOOKED and result.host is not None:
            looked[result.host.address] = result
    return looked


def diff(old: Report, new: Report) -> Diff:
    """Compare two reports of the same targets (``old`` first)."""
    old_by_id = {identity(f): f for f in old.findings}
    new_by_id = {identity(f): f for f in new.findings}
    new_looked = _looked_at({t.target: t for t in new.targets})

    added, resolved, unverified, changed = [], [], [], []
    unchanged = 0
    for key, finding in new_by_id.items():
        before = old_by_id.get(key)
        if before is None:
            added.append(finding)
        elif (before.severity, before.summary) != (finding.severity, finding.summary):
            changed.append(Change(before, finding))
        else:
            unchanged += 1
    for key, finding in old_by_id.items():
        if key in new_by_id:
            continue
        result = new_looked.get(finding.host)
        port = result.host.port(finding.port) if result is not None and result.host and finding.port else None
        if result is None or (port is not None and port.is_open and not port.assessable):
            unverified.append(finding)
        else:
            resolved.append(finding)
    old_names = {_name(t) for t in old.targets if t.outcome in _LOOKED}
    new_names = {_name(t) for t in new.targets if t.outcome in _LOOKED}
    return Diff(
        new=tuple(sorted(added, key=_order)),
        resolved=tuple(sorted(resolved, key=_order)),
        changed=tuple(sorted(changed, key=lambda c: _order(c.new))),
        unverified=tuple(sorted(unverified, key=_order)),
        unchanged=unchanged,
        only_in_old=tuple(sorted(old_names - new_names)),
        only_in_new=tuple(sorted(new_names - old_names)),
    )


def _name(result: TargetResult) -> str:
    return result.host.address if result.host is not None else result.target
