"""Start the loopback lab, assess every lab host with one mailtls.assess_many call, print the findings,
stop the lab."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

import lab
import mailtls
from mailtls.model.report import Report
from mailtls.output.table import print_report


def main() -> int:
    console = Console()
    console.print(f"Starting the lab: {len(lab.HOSTS)} hosts on 127.0.0.0/8 (mail is never delivered)")
    hosts = list(lab.HOSTS.values())
    # The open-relay test sends test mail transactions: only to the host built for it.
    relay = [h for h in hosts if h.relay_test]
    others = [h for h in hosts if not h.relay_test]
    with lab.start():
        started = time.monotonic()
        reports = [
            mailtls.assess_many(
                [h.target for h in group], ports=sorted({p for h in group for p in h.ports}), open_relay=opt_in
            )
            for group, opt_in in ((others, False), (relay, True))
        ]
        elapsed = time.monotonic() - started
    report = Report(
        targets=tuple(t for r in reports for t in r.targets),
        runs=tuple(run for r in reports for run in r.runs),
        problems=tuple(p for r in reports for p in r.problems),
    )
    console.rule("The lab's hosts")
    for host in hosts:
        console.print(f"{host.target:>12}  {host.name}: {host.description}")
    console.rule("What mailtls found")
    print_report(report, console)
    console.print(f"\n{len(report.findings)} findings on {len(report.targets)} hosts in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
