"""Record nmap XML from the lab into tests/data/, for the unit tests (run as root).

    python scripts/record_lab.py [NAME ...]

Each lab host is scanned once, in a single nmap pass with service detection on every
port, i.e. the slow, naive way: the tests then check that ``assess`` (two passes,
-sV only where needed) finds exactly what this recording yields. tests/data/README.md
is rewritten with the command behind every file.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab
from mailtls.scan.runner import naive_command
from mailtls.scan.targets import parse_target

DATA = ROOT / "tests" / "data"


def command(host: lab.LabHost) -> list[str]:
    return naive_command([parse_target(host.target)], host.ports, open_relay=host.relay_test)


def main(names: list[str]) -> int:
    version = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    today = dt.date.today().isoformat()
    hosts = [lab.HOSTS[n] for n in names] if names else list(lab.HOSTS.values())
    with lab.start():
        for host in hosts:
            cmd = command(host)
            xml = subprocess.run(cmd, capture_output=True, check=True).stdout
            (DATA / f"lab-{host.name}.xml").write_bytes(xml)
            print(f"recorded lab-{host.name}.xml ({len(xml)} bytes)")
    lines = [
        "# Recorded nmap XML",
        "",
        "Every `lab-*.xml` file is nmap's XML output for one host of the loopback lab (`lab/`),",
        "recorded by `python scripts/record_lab.py` (which starts the lab, runs the command",
        "below, and stops the lab). One nmap pass with `-sV` on every port: the slow, naive",
        "scan that `mailtls.assess` must agree with.",
        "",
        f"Recorded {today} with {version}, Dovecot and Postfix from Debian 12.",
        "",
        "| file | lab host | command |",
        "|---|---|---|",
    ]
    for host in lab.HOSTS.values():
        if (DATA / f"lab-{host.name}.xml").exists():
            lines.append(f"| lab-{host.name}.xml | {host.name}: {host.description} | `{' '.join(command(host))}` |")
    (DATA / "README.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
