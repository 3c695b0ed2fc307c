#!/usr/bin/env python3
"""What the fake nmap programs share: the targets mailtls sends on stdin, a valid host, a log.

Each shim is run by a tiny ``nmap`` wrapper that the ``fake_nmap`` fixture puts first on
PATH. Only the standard library: the shims run under whatever python3 is installed."""

from __future__ import annotations

import json
import os
import sys

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<nmaprun scanner="nmap" args="nmap (fake)" start="1700000000" version="7.93" xmloutputversion="1.05">\n'
    '<scaninfo type="connect" protocol="tcp" numservices="1" services="25"/>\n'
)
RUNSTATS = '<runstats><finished time="1700000009" exit="success"/><hosts up="1" down="0" total="1"/></runstats>\n'
TAIL = RUNSTATS + "</nmaprun>\n"


def log() -> None:
    """Record this invocation (argv, pid, process group) where the test can read it."""
    path = os.environ.get("MAILTLS_SHIM_LOG")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"argv": sys.argv[1:], "pid": os.getpid(), "pgid": os.getpgid(0)}) + "\n")


def start() -> None:
    """Log this invocation, and answer ``-V`` as nmap does (python-nmap asks for it first)."""
    log()
    if "-V" in sys.argv or "--version" in sys.argv:
        sys.stdout.write("Nmap version 7.93 ( https://nmap.org )\nPlatform: x86_64-pc-linux-gnu\n")
        sys.exit(0)


def targets() -> list[str]:
    """The hosts asked for: one per line on stdin (``-iL -``), else IPv4 addresses in argv."""
    if "-iL" not in sys.argv:
        # How python-nmap (and mailtls before it ran nmap itself) passes them: as arguments.
        return [a for a in sys.argv[1:] if a.count(".") == 3 and a.replace(".", "").isdigit()]
    return [line.strip() for line in sys.stdin if line.strip()]


def host(address: str) -> str:
    """A finished host with SMTP on 25 and no STARTTLS: a conclusive MT103."""
    return (
        f'<host starttime="1700000001" endtime="1700000002"><status state="up" reason="user-set" reason_ttl="0"/>\n'
        f'<address addr="{address}" addrtype="ipv4"/>\n<hostnames></hostnames>\n'
        '<ports><port protocol="tcp" portid="25"><state state="open" reason="syn-ack" reason_ttl="64"/>'
        '<service name="smtp" method="table" conf="3"/>'
        '<script id="smtp-commands" output="mx.example, PIPELINING, 8BITMIME"/></port>\n</ports>\n'
        '<times srtt="50" rttvar="50" to="100000"/>\n</host>\n'
    )


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def valid_run() -> None:
    """A whole, valid run over every target."""
    write(HEAD + "".join(host(t) for t in targets()) + TAIL)
