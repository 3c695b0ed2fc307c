"""Live scans of the lab: mailtls.assess against the alternatives, in one run (run as root).

    python benchmarks/bench_scan.py

For every lab host:
- mailtls.assess (two nmap passes, -sV only where the scripts could not confirm mail);
- naive nmap: one pass, -sV on every port, the same scripts (what mailtls records in tests/data);
- sslscan and sslyze on each TLS port of the host (STARTTLS where the port needs it),
  one port after another. They grade TLS only: no capabilities, no plaintext verdict.

Wall times are best of N; ratios are alternative / mailtls (above 1 means mailtls is faster).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab
import mailtls
from mailtls.scan.runner import naive_command
from mailtls.scan.targets import parse_target

REPEAT = 3
STARTTLS = {mailtls.Protocol.SMTP: "smtp", mailtls.Protocol.IMAP: "imap", mailtls.Protocol.POP3: "pop3"}


def best(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def naive_nmap(host: lab.LabHost) -> None:
    subprocess.run(naive_command([parse_target(host.target)], host.ports, open_relay=host.relay_test),
                   capture_output=True, check=True)


def tls_ports(report: mailtls.Report) -> list[mailtls.PortRecord]:
    return [p for p in report.hosts[0].open_ports if p.tls_mode is not mailtls.TlsMode.NONE]


def sslscan(ports: list[mailtls.PortRecord]) -> None:
    for port in ports:
        starttls = [f"--starttls-{STARTTLS[port.protocol]}"] if port.tls_mode is mailtls.TlsMode.STARTTLS else []
        subprocess.run(["sslscan", "--no-colour", *starttls, f"{port.address}:{port.number}"],
                       capture_output=True, check=False, timeout=120)


def sslyze(ports: list[mailtls.PortRecord]) -> None:
    for port in ports:
        starttls = ["--starttls", STARTTLS[port.protocol]] if port.tls_mode is mailtls.TlsMode.STARTTLS else []
        subprocess.run([sys.executable, "-m", "sslyze", *starttls, f"{port.address}:{port.number}"],
                       capture_output=True, check=False, timeout=300)


def main() -> int:
    have_sslscan = shutil.which("sslscan") is not None
    try:
        import sslyze as _  # noqa: F401
        have_sslyze = True
    except ImportError:
        have_sslyze = False
    rows = []
    with lab.start():
        for host in lab.HOSTS.values():
            report = mailtls.assess(host.target, ports=host.ports, open_relay=host.relay_test)
            ports = tls_ports(report)
            row = {
                "host": host.name,
                "ports": len(host.ports),
                "tls ports": len(ports),
                "mailtls": best(
                    lambda host=host: mailtls.assess(host.target, ports=host.ports, open_relay=host.relay_test)
                ),
                "naive nmap": best(lambda host=host: naive_nmap(host), repeat=1),
            }
            if ports and have_sslscan:
                row["sslscan"] = best(lambda ports=ports: sslscan(ports), repeat=1)
            if ports and have_sslyze:
                row["sslyze"] = best(lambda ports=ports: sslyze(ports), repeat=1)
            rows.append(row)
            print(row, flush=True)
    tools = ["naive nmap", "sslscan", "sslyze"]
    print()
    print("| host | ports (TLS) | mailtls s | " + " | ".join(f"{t} s (×)" for t in tools) + " |")
    print("|---|---|---|" + "---|" * len(tools))
    for row in rows:
        cells = []
        for tool in tools:
            cells.append(f"{row[tool]:.2f} ({row[tool] / row['mailtls']:.1f}×)" if tool in row else "n/a")
        print(
            f"| {row['host']} | {row['ports']} ({row['tls ports']}) | {row['mailtls']:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    if not have_sslyze:
        print("sslyze is not installed: pip install -e '.[bench]'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
