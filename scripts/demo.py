"""Start the loopback lab, assess every lab host with mailtls, print the findings, stop the lab."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

import lab
import mailtls
from mailtls.cli import print_report


def main() -> int:
    console = Console()
    console.print(f"Starting the lab: {len(lab.HOSTS)} hosts on 127.0.0.0/8 (mail is never delivered)")
    with lab.start():
        started = time.monotonic()
        # Each assessment is one nmap process that mostly waits on the network: run them side by side.
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = list(
                pool.map(lambda h: mailtls.assess(h.target, ports=h.ports, open_relay=h.relay_test), lab.HOSTS.values())
            )
        elapsed = time.monotonic() - started
    for host, report in zip(lab.HOSTS.values(), reports, strict=True):
        console.rule(f"{host.name} ({host.address}): {host.description}")
        print_report(report, console)
    total = sum(len(r.findings) for r in reports)
    console.print(f"\n{total} findings on {len(reports)} hosts in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
