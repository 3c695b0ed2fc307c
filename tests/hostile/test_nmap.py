"""mailtls against an nmap that misbehaves: fake ``nmap`` programs (tests/hostile/shims/)
put first on PATH. Each misbehaviour ends as data in the report (a problem, an
incomplete run, a target that failed), never as a foreign exception or a hang, and
every process nmap started is gone when ``assess`` returns.

The shims read the targets mailtls sends on stdin and answer for them, so the
addresses here (127.60.2.x) are never contacted: no packet leaves this process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import mailtls
from mailtls import Outcome, Stage

SHIMS = Path(__file__).resolve().parent / "shims"
A, B = "127.60.2.1", "127.60.2.2"


def invocations(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def scan_problems(report: mailtls.Report) -> list[str]:
    return [p.message for p in report.all_problems if p.stage is Stage.SCAN]


def test_usage_error_is_a_failed_target_not_an_exception(fake_nmap):
    log = fake_nmap("usage_error")
    report = mailtls.assess(A, ports=[25], timeout=5)
    target = report.target(A)
    assert target.outcome is Outcome.FAILED
    assert report.findings == () and not report.complete
    messages = scan_problems(report)
    assert any("exited with status 255" in m for m in messages), messages
    # every stderr line is kept, the usage text included
    assert any("Unrecognized option: --fake" in m for m in messages), messages
    assert len(invocations(log)) == 1


def test_killed_mid_xml_keeps_the_finished_host(fake_nmap):
    fake_nmap("killed_mid_xml")
    report = mailtls.assess_many([A, B], ports=[25], timeout=5, concurrency=1)
    # Then the host nmap finished before it died is judged...
    assert report.target(A).outcome is Outcome.ASSESSED
    assert {f.rule_id for f in report.target(A).findings} == {"MT103"}
    # ...the one it was writing is accounted for, not lost or invented...
    assert report.target(B).outcome is Outcome.FAILED and report.target(B).findings == ()
    # ...and the report says the run was cut short
    assert not report.complete
    assert any(not run.complete for run in report.runs)
    assert any("status -9" in m for m in scan_problems(report)), scan_problems(report)


SUBREAPER_CHECK = textwrap.dedent(
    """
    # Run assess as a child subreaper: orphans of the fake nmap are re-parented to this
    # process, which reaps them, so a killed process does not linger as a zombie (this
    # machine's PID 1 reaps nothing) and os.killpg(pgid, 0) tells the truth.
    import ctypes, json, os, sys, time
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    import mailtls
    started = time.monotonic()
    report = mailtls.assess(sys.argv[1], ports=[25], timeout=5)
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    log = [json.loads(line) for line in open(os.environ["MAILTLS_SHIM_LOG"])]
    pgid = log[0]["pgid"]
    try:
        os.killpg(pgid, 0)
        left = [l for l in os.popen(f"ps -o pid=,stat=,args= -g {pgid}")]
    except ProcessLookupError:
        left = []
    print(json.dumps({
        "elapsed": elapsed, "pgid": pgid, "pid": log[0]["pid"], "left": left,
        "outcome": report.target(sys.argv[1]).outcome.value,
        "rules": sorted({f.rule_id for f in report.findings}),
        "complete": report.complete,
        "errors": [e.message for e in report.all_problems],
    }))
    """
)


def test_hanging_nmap_and_its_children_are_stopped_within_the_deadline(fake_nmap):
    fake_nmap("hang_forking")
    # Given an nmap that writes one host, then hangs with children and a grandchild that hang
    result = subprocess.run(
        [sys.executable, "-c", SUBREAPER_CHECK, A], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    # Then assess(timeout=5) returns within 10 s
    assert out["elapsed"] < 10, out
    # and nmap ran in a process group of its own, of which nothing is left
    assert out["pgid"] == out["pid"]
    assert out["left"] == [], out["left"]
    # and the host it had finished is kept, in a report that says it was cut short
    assert out["rules"] == ["MT103"] and out["complete"] is False
    assert any("deadline" in m for m in out["errors"]), out["errors"]


def test_nmap_is_never_asked_for_its_version(fake_nmap):
    # Given an nmap that hangs on -V (python-nmap's constructor runs it with no time limit)
    log = fake_nmap("hang_on_version")
    started = time.monotonic()
    report = mailtls.assess(A, ports=[25], timeout=5)
    # Then mailtls never runs -V: the scan is quick, complete and judged
    assert time.monotonic() - started < 10
    calls = invocations(log)
    assert calls and not any("-V" in c["argv"] or "--version" in c["argv"] for c in calls), calls
    assert {f.rule_id for f in report.findings} == {"MT103"} and report.complete


def test_non_utf8_stderr_is_kept_not_raised(fake_nmap):
    fake_nmap("stderr_not_utf8")
    report = mailtls.assess(A, ports=[25], timeout=5)
    assert {f.rule_id for f in report.findings} == {"MT103"}
    messages = scan_problems(report)
    assert any("odd" in m and "\ufffd" in m for m in messages), messages


def test_exit_1_after_valid_xml_is_reported(fake_nmap):
    fake_nmap("exit1_after_xml")
    report = mailtls.assess(A, ports=[25], timeout=5)
    # The findings stand, but the report is not complete: nmap said it failed
    assert {f.rule_id for f in report.findings} == {"MT103"}
    assert not report.complete
    messages = scan_problems(report)
    assert any("exited with status 1" in m for m in messages), messages
    assert any("something went wrong after the scan" in m for m in messages), messages
    assert report.runs[0].returncode == 1


def test_warnings_on_stderr_are_kept(fake_nmap):
    fake_nmap("stderr_warnings")
    report = mailtls.assess(A, ports=[25], timeout=5)
    messages = scan_problems(report)
    assert any("retransmission cap hit" in m for m in messages), messages
    assert any("resolves to 2 IPs" in m for m in messages), messages
    assert {f.rule_id for f in report.findings} == {"MT103"}


def test_xml_without_runstats(fake_nmap):
    fake_nmap("no_runstats")
    report = mailtls.assess(A, ports=[25], timeout=5)
    assert {f.rule_id for f in report.findings} == {"MT103"}
    # nmap always writes <runstats>: its absence is named, not ignored
    assert any("runstats" in p.message for p in report.all_problems), report.all_problems


def test_host_without_address(fake_nmap):
    fake_nmap("no_address")
    report = mailtls.assess(A, ports=[25], timeout=5)
    assert report.target(A).outcome is Outcome.ASSESSED
    assert {f.rule_id for f in report.findings} == {"MT103"}
    assert any("without an IP address" in p.message for p in report.all_problems), report.all_problems


def test_one_failing_run_costs_only_its_own_targets(fake_nmap, tmp_path):
    # Given two batches (concurrency=2), the shim dies only in the run that has B
    fake_nmap("usage_error")
    wrapper = tmp_path / "bin" / "nmap"
    wrapper.write_text(
        "#!/bin/sh\n"
        "input=$(cat)\n"
        f'case "$input" in *{B}*) exec {sys.executable} {SHIMS}/usage_error.py "$@" ;; esac\n'
        f'printf "%s\\n" "$input" | exec {sys.executable} {SHIMS}/stderr_warnings.py "$@"\n'
    )
    report = mailtls.assess_many([A, B], ports=[25], timeout=5, concurrency=2)
    assert report.target(A).outcome is Outcome.ASSESSED and report.target(A).findings
    assert report.target(B).outcome is Outcome.FAILED


# --- values checked at the door: refused before nmap starts -----------------------


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), "10", 1e12, -1, 0])
def test_bad_timeout_is_refused_before_nmap_starts(fake_nmap, timeout):
    log = fake_nmap("stderr_warnings")
    with pytest.raises(mailtls.OptionError, match="timeout") as caught:
        mailtls.assess(A, ports=[25], timeout=timeout)
    assert isinstance(caught.value, mailtls.MailTlsError)
    assert invocations(log) == []  # nmap was never started


def test_every_port_goes_to_nmap_as_one_range(fake_nmap):
    log = fake_nmap("stderr_warnings")
    report = mailtls.assess(A, ports=range(1, 65536), timeout=5)
    argv = invocations(log)[0]["argv"]
    assert argv[argv.index("-p") + 1] == "T:1-65535"
    assert {f.rule_id for f in report.findings} == {"MT103"}
