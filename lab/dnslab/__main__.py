"""python -m lab.dnslab start|stop [--workdir DIR]: run the domain lab by hand (as root)."""

from __future__ import annotations

import argparse
import sys

from . import ZONES, DomainLabError, _workdir, start, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.dnslab", description=__doc__)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--workdir", help="default: $MAILTLS_DNSLAB_DIR or /tmp/mailtls-dnslab")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.workdir)
        print(f"domain lab in {_workdir(args.workdir)} stopped")
        return 0
    try:
        running = start(args.workdir)
    except DomainLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"domain lab up; resolver 127.53.0.2, CA {running.ca_file}")
    for zone in ZONES:
        print(f"  {zone.name:32} {zone.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
