"""python -m lab start|stop|status [--workdir DIR]: run the loopback lab by hand (as root)."""

from __future__ import annotations

import argparse
import sys
import time

from . import HOSTS, LabError, _workdir, start, status, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--workdir", help="default: $MAILTLS_LAB_DIR or /tmp/mailtls-lab")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            began = time.monotonic()
            running = start(args.workdir)
            print(f"lab up in {time.monotonic() - began:.1f} s, files and logs in {running.workdir}")
        elif args.command == "stop":
            stop(args.workdir)
            print(f"lab in {_workdir(args.workdir)} stopped")
            return 0
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    answers = status()
    for name, host in HOSTS.items():
        ports = " ".join(f"{p}/{s}:{'up' if answers[name][p] else 'DOWN'}" for p, s in host.services.items())
        print(f"{name:9} {host.address:11} {ports}\n{'':21} {host.description}")
    return 0 if all(all(ports.values()) for ports in answers.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
