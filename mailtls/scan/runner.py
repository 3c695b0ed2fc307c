"""Step 2 of the data flow: run nmap, and read its XML while nmap writes it.

Why mailtls runs nmap itself instead of through python-nmap's ``PortScanner``
(measured on this project's machines; see benchmarks/RESULTS.md):

- python-nmap parses every run's whole output with ElementTree before mailtls could
  read it again: for 5,000 hosts that second parse peaked at about 680 MiB, where
  mailtls's streaming reader needs about 150 MiB;
- it cannot read a run that was cut short (the partial XML raises), so every host
  finished before a timeout or a kill is lost;
- it hands over nothing until nmap exits: no progress, no per-host results;
- on timeout it SIGKILLs only its direct child, so whatever nmap (or a wrapper
  around it) forked keeps running; and its constructor runs ``nmap -V`` with no
  time limit, so an nmap that hangs there hangs the caller.

So here nmap runs in a process group of its own with a deadline; its XML is read from
the pipe host by host as nmap finishes each one; at the deadline the whole group is
killed and every host finished before is kept; its exit status and everything it
wrote on stderr are kept as problems. python-nmap stays the way in for scans that
other tools ran with it (``assess_xml`` accepts a ``PortScanner``).

Targets reach nmap on its standard input (``-iL -``), one validated host per line:
never as arguments, so no target can become an option, and no list is too long for
a command line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from typing import IO

import attrs

from .._errors import NmapNotFoundError, XmlError
from ..model.records import Problem, RunRecord, Stage
from ..nmapxml.reader import HostRead, ScanReader
from ..nse import script_path
from ..protocols import OPEN_RELAY_SCRIPT, PACKAGED_SCRIPTS, SCRIPTS
from .options import ScanOptions
from .targets import Target

INSTALL_HINT = "install it with `apt-get install nmap` (Debian/Ubuntu) or from https://nmap.org/download"

#: Seconds nmap gets past the caller's timeout to write out its XML before it is killed.
GRACE = 3.0
#: What is kept of nmap's stderr (it keeps writing; the rest is read and dropped).
MAX_STDERR = 256 * 1024
#: stderr lines kept as separate problems; the rest stay in the first one's detail.
MAX_STDERR_PROBLEMS = 50


@attrs.frozen
class NmapJob:
    """One nmap run: which hosts, and the options it runs with (ports, the seconds nmap may
    spend on each host as its --host-timeout, the opt-in relay test)."""

    targets: tuple[Target, ...]
    options: ScanOptions
    service_detection: bool = False

    @property
    def ipv6(self) -> bool:
        return any(t.is_ipv6 for t in self.targets)


def nmap_arguments(job: NmapJob) -> list[str]:
    """nmap's options for one run; the targets go to its standard input, not here."""
    arguments = [
        "-Pn",  # the caller named the hosts: scan them even if they ignore ping
        "-n",  # no reverse DNS: no packets to resolvers the caller did not ask for
    ]
    if job.service_detection:
        # Identifies the protocol on non-standard ports, which nmap's TLS and capability
        # scripts then use too. It costs seconds per port (see plan.py).
        arguments.append("-sV")
    scripts = SCRIPTS + ((OPEN_RELAY_SCRIPT,) if job.options.open_relay else ())
    arguments += ["--script", ",".join(script_path(n) if n in PACKAGED_SCRIPTS else n for n in scripts)]
    if job.ipv6:
        arguments.append("-6")
    # All hosts of the run in one group, so each starts at once and the run ends about
    # when the slowest host does: that is what makes the deadline below hold.
    arguments += ["--min-hostgroup", str(max(1, len(job.targets)))]
    # nmap's own limit, so a slow host ends with well-formed XML that says it timed out.
    arguments += ["--host-timeout", f"{max(1, int(job.options.timeout))}s"]
    arguments += ["-p", port_spec(job.options.ports)]
    return arguments


def naive_command(targets: Sequence[Target], ports: Sequence[int], *, open_relay: bool = False) -> list[str]:
    """The one-pass ``nmap -sV`` a user would write by hand: every script, service detection
    on every port, targets on the command line. What the recorded lab scans and the
    benchmarks compare mailtls's two passes against; mailtls never runs it."""
    job = NmapJob(tuple(targets), ScanOptions(ports=ports, open_relay=open_relay), service_detection=True)
    return ["nmap", "-oX", "-", *nmap_arguments(job), *(t.value for t in targets)]


def port_spec(ports: Sequence[int]) -> str:
    """``T:25,110,143-145``: TCP only, consecutive ports as ranges, so any list stays short."""
    numbers = sorted(set(ports))
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return "T:" + ",".join(parts)


def find_nmap() -> str:
    """The nmap executable on PATH, or ``NmapNotFoundError`` saying how to install it."""
    path = shutil.which("nmap")
    if path is None:
        raise NmapNotFoundError(f"nmap is not installed or not on PATH: {INSTALL_HINT}")
    return path


class NmapRun:
    """One nmap process, read as it writes.

    Iterating starts nmap and yields each host (``HostRecord`` and its problems) when
    nmap has finished it. By ``deadline`` (``time.monotonic()``) nmap must be done; past
    it, its whole process group is killed and what it wrote so far is kept. Once the
    iteration ends, ``run`` describes the run (exit code included) and ``problems`` holds
    everything that went wrong with it as a whole. Nothing but a missing nmap raises.
    """

    def __init__(self, job: NmapJob, *, deadline: float) -> None:
        self.job = job
        self.deadline = deadline
        self.command: tuple[str, ...] = ()
        self.run = RunRecord(complete=False)
        self.problems: list[Problem] = []
        self.stderr = ""
        self.killed = False

    def __iter__(self) -> Iterator[HostRead]:
        executable = find_nmap()
        self.command = (executable, "-oX", "-", *nmap_arguments(self.job), "-iL", "-")
        try:
            process = subprocess.Popen(  # noqa: S603 - an argument list, no shell: the located nmap and our options
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                start_new_session=True,  # its own process group, so it can be killed whole
            )
        except OSError as exc:
            raise NmapNotFoundError(f"nmap could not be started ({exc.strerror}): {INSTALL_HINT}") from None
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None  # noqa: S101 - PIPEs
        stderr = _Drain(process.stderr)
        feeder = threading.Thread(target=_feed, args=(process.stdin, self.job.targets), daemon=True)
        feeder.start()
        watchdog = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire, args=(process,))
        watchdog.daemon = True
        watchdog.start()
        reader = ScanReader(process.stdout)
        try:
            yield from reader
        except XmlError as exc:
            # nmap wrote no XML at all: a usage error, a crash, or a kill before it began.
            self.problems.append(Problem(stage=Stage.SCAN, message=f"nmap gave no XML: {exc}"))
        finally:
            watchdog.cancel()
            returncode = self._reap(process)
            stderr.join(timeout=2)
            self.stderr = stderr.text()
            self.run = attrs.evolve(reader.run, returncode=returncode)
            self.problems[:0] = reader.problems
            self._explain(returncode)

    def _expire(self, process: subprocess.Popen[bytes]) -> None:
        self.killed = True
        _kill_group(process.pid)

    def _reap(self, process: subprocess.Popen[bytes]) -> int | None:
        # Whatever nmap forked dies with it, even when nmap itself exited in time.
        try:
            returncode = process.wait(timeout=max(0.1, min(GRACE, self.deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            self.killed = True
            _kill_group(process.pid)
            returncode = process.wait()
        _kill_group(process.pid)
        for stream in (process.stdout, process.stdin):
            if stream is not None:
                stream.close()
        return returncode

    def _explain(self, returncode: int | None) -> None:
        if self.killed:
            self.problems.append(
                Problem(
                    stage=Stage.SCAN,
                    message=f"nmap was still running at its deadline ({self.job.options.timeout:g} s per host, "
                    f"plus {GRACE:g} s) and was stopped with every process it started; "
                    "the hosts it had finished are kept",
                )
            )
        elif returncode:
            self.problems.append(Problem(stage=Stage.SCAN, message=f"nmap exited with status {returncode}"))
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines[:MAX_STDERR_PROBLEMS]:
            self.problems.append(Problem(stage=Stage.SCAN, message=f"nmap said: {line[:500]}", detail=self.stderr))
        if len(lines) > MAX_STDERR_PROBLEMS:
            self.problems.append(
                Problem(stage=Stage.SCAN, message=f"nmap wrote {len(lines) - MAX_STDERR_PROBLEMS} more lines on stderr")
            )


def _feed(stdin: IO[bytes], targets: Sequence[Target]) -> None:
    try:
        stdin.write("".join(f"{t.value}\n" for t in targets).encode("ascii"))
        stdin.close()
    except OSError:
        pass  # nmap exited (or was killed) before reading its targets


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Drain:
    """Reads a stream to its end in a thread, keeping the first ``MAX_STDERR`` bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._kept = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := self._stream.read(65536):
                room = MAX_STDERR - len(self._kept)
                if room > 0:
                    self._kept += chunk[:room]
        except (OSError, ValueError):
            pass
        finally:
            self._stream.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        # nmap's messages are ASCII; anything else (a hostile wrapper, a locale) is shown, not fatal.
        return bytes(self._kept).decode("utf-8", errors="replace")
