"""python -m lab.others start|stop|status: run the other real servers by hand (as root)."""

from __future__ import annotations

import argparse
import sys
import time

from .. import LabError
from . import HOSTS, start, status, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.others", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            began = time.monotonic()
            start()
            print(f"up in {time.monotonic() - began:.1f} s")
        elif args.command == "stop":
            stop()
            print("stopped")
            return 0
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    answers = status()
    for name, host in HOSTS.items():
        ports = " ".join(f"{p}/{s}:{'up' if answers[name][p] else 'DOWN'}" for p, s in host.services.items())
        print(f"{name:16} {host.address:11} {host.server}: {ports}\n{'':29}{host.description}")
    return 0 if all(all(ports.values()) for ports in answers.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
