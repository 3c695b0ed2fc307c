"""Small assertions shared by the tests."""

from __future__ import annotations

import mailtls


def found(report: mailtls.Report) -> set[tuple[str, int | None]]:
    """The (rule id, port) pairs a report found."""
    return {(f.rule_id, f.port) for f in report.findings}


def rule_ids(report: mailtls.Report) -> set[str]:
    return {f.rule_id for f in report.findings}


def recorded(name: str):
    """The nmap XML recorded from lab host ``name`` (see tests/data/README.md)."""
    from pathlib import Path

    return Path(__file__).resolve().parent / "data" / f"lab-{name}.xml"
