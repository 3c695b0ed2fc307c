"""``python -m lab.fleet``: run the fleet in the foreground, or print its hosts.

    python -m lab.fleet serve --hosts 1024       # run in the foreground until Ctrl-C
    python -m lab.fleet expected --hosts 64      # the hosts and their expected findings
    python -m lab.fleet addresses --hosts 1024   # one address a line, for nmap -iL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .control import DEFAULT_WORKDIR
from .hosts import DEFAULT_HOSTS, FleetError, hosts
from .server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lab.fleet", description="A simulated fleet of mail hosts on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="answer SMTP, POP3 and IMAP on every fleet address until stopped")
    run.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    run.add_argument("--workdir", default=os.environ.get("MAILTLS_FLEET_DIR") or DEFAULT_WORKDIR)
    run.add_argument("--exit-with-parent", action="store_true", help="exit when the starting process is gone")
    expected = commands.add_parser("expected", help="print each host's kind, open ports and expected findings")
    expected.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    addresses = commands.add_parser("addresses", help="print one address a line (for nmap -iL)")
    addresses.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            asyncio.run(serve(args.hosts, Path(args.workdir), exit_with_parent=args.exit_with_parent))
        except FleetError as exc:
            print(f"fleet: {exc}", file=sys.stderr)
            return 1
    elif args.command == "expected":
        for host in hosts(args.hosts):
            findings = " ".join(f"{rule}@{port}" for rule, port in sorted(host.expected, key=lambda f: (f[1], f[0])))
            ports = ",".join(map(str, host.ports)) or "-"
            print(f"{host.index}\t{host.address}\t{host.kind.value}\t{ports}\t{findings or '-'}")
    else:
        print("\n".join(h.address for h in hosts(args.hosts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
