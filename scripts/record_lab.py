"""Record nmap XML from the lab into tests/data/, for the unit tests (run as root).

    python scripts/record_lab.py [NAME ...]

Each lab host is scanned once, in a single nmap pass with service detection on every
port, i.e. the slow, naive way: the tests then check that ``assess`` (two passes,
-sV only where needed) finds exactly what this recording yields. tests/data/README.md
is rewritten with the command behind every file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
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


def shown(text: str) -> str:
    """The command as the README and the recorded XML show it: mailtls's own NSE scripts by
    their path in the repository, not on the machine that recorded it."""
    return text.replace(f"{ROOT}/", "")


def main(names: list[str]) -> int:
    version = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    hosts = [lab.HOSTS[n] for n in names] if names else list(lab.HOSTS.values())
    # One lab per machine at a time (the test suite takes the same lock).
    with open("/tmp/mailtls-lab.lock", "w") as lock:  # noqa: S108 - the machine-wide lock tests/lab/conftest.py takes
        fcntl.flock(lock, fcntl.LOCK_EX)
        record(hosts)
    write_readme(version)
    return 0


def record(hosts: list[lab.LabHost]) -> None:
    with lab.start():
        for host in hosts:
            cmd = command(host)
            xml = subprocess.run(cmd, capture_output=True, check=True).stdout
            (DATA / f"lab-{host.name}.xml").write_bytes(shown(xml.decode("utf-8")).encode("utf-8"))
            print(f"recorded lab-{host.name}.xml ({len(xml)} bytes)")


def write_readme(version: str) -> None:
    today = dt.date.today().isoformat()
    lines = [
        "# Recorded nmap XML",
        "",
        "Every `lab-*.xml` file is nmap's XML output for one host of the loopback lab (`lab/`),",
        "recorded by `python scripts/record_lab.py` (which starts the lab, runs the command",
        "below, and stops the lab). One nmap pass with `-sV` on every port: the slow, naive",
        "scan that `mailtls.assess` must agree with. mailtls's own NSE scripts are given by their",
        "path (written here, and in each file's `args`, relative to the repository).",
        "",
        "    sudo .venv/bin/python scripts/record_lab.py        # every lab host; or name some",
        "",
        f"Recorded {today} with {version}, Dovecot and Postfix from Debian 12.",
        "",
        "| file | lab host | command |",
        "|---|---|---|",
    ]
    for host in lab.HOSTS.values():
        if (DATA / f"lab-{host.name}.xml").exists():
            run = shown(" ".join(command(host)))
            lines.append(f"| lab-{host.name}.xml | {host.name}: {host.description} | `{run}` |")
    lines += [
        "",
        "`report-schema-3.json` is not a scan: it is `mailtls.to_json` of `lab-plain.xml` as recorded",
        "on 2026-11-29, written by mailtls before the JSON schema 4 (no rule descriptions in its",
        "catalogue, nmap's reason named `reason`). The tests read it to check that documents of",
        "schema 3 are still read.",
    ]
    (DATA / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
