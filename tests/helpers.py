"""Small things shared by the tests: where the recorded data is, what a report found, and
how a rule plugin is installed for a test."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mailtls

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = TESTS / "data"
#: Crafted nmap XML (see its README).
HOSTILE_DATA = DATA / "hostile"


def found(report: mailtls.Report) -> set[tuple[str, int | None]]:
    """The (rule id, port) pairs a report found."""
    return {(f.rule_id, f.port) for f in report.findings}


def rule_ids(report: mailtls.Report) -> set[str]:
    return {f.rule_id for f in report.findings}


def recorded(name: str) -> Path:
    """The nmap XML recorded from lab host ``name`` (see tests/data/README.md)."""
    return DATA / f"lab-{name}.xml"


@contextlib.contextmanager
def machine_lock(path: str) -> Iterator[None]:
    """One holder per machine at a time: a second test session waits here for the first
    (the lab's addresses are fixed, so two labs cannot run side by side)."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install_distribution(source: Path, target: Path) -> Path:
    """Install the distribution at ``source`` with pip into the scratch directory ``target``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        check=True,
    )
    return target


def run_with_path(path: Path, code: str) -> dict:
    """Run ``code`` in a fresh interpreter with ``path`` first on its import path; return the
    JSON it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """mailtls in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mailtls", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
