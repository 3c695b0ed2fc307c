"""The lab's other real servers: Exim, OpenSMTPD, Sendmail, Courier, Cyrus, GNU Mailutils,
and a Postfix and a Dovecot under tight connection limits, all on 127.0.2.0/24.

    >>> import lab.others
    >>> with lab.others.start() as running:     # about 10 s; every port answering
    ...     for host in running.hosts.values():
    ...         print(host.name, host.address, host.server, sorted(host.services))

Debian 12's MTA packages conflict with each other and with the host's Postfix, so the
servers run from three Debian chroots built by scripts/install-lab-servers.sh (one MTA per
chroot, the IMAP/POP3 servers beside them): ``exim`` (Exim, Courier), ``opensmtpd``
(OpenSMTPD, Cyrus) and ``sendmail`` (Sendmail, Mailutils), under $MAILTLS_LAB_CHROOTS
(default /var/lib/mailtls-lab). :func:`start` writes every configuration into the chroots'
/lab (lab.others.servers), mounts /proc in each, starts each daemon in the foreground under
its own session and keeps its pid; the Postfix (anvil limits) and Dovecot (login process
limit) hosts run from the host's own packages as a second instance of the main lab's
machinery (lab.start with another host set and work directory). :func:`stop` ends those
pids, waits until no process is left inside any chroot, and unmounts /proc.

What each host and port must do, and which mailtls findings its configuration calls for,
is declared in lab.others.hosts; tests/lab/test_other_servers_by_hand.py checks it by hand (no mailtls).
Needs root. Traffic never leaves 127.0.2.0/24 and no server can deliver mail.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import lab

from ..certs import make_certificates
from . import servers
from .hosts import HOSTS, LAB_HOSTS, Expect, Limit, OtherHost

__all__ = ["HOSTS", "Expect", "Limit", "OtherHost", "OtherLab", "chroot_dir", "start", "status", "stop"]

DEFAULT_CHROOTS = "/var/lib/mailtls-lab"
#: Where the Postfix/Dovecot instance keeps its files (a main-lab work directory).
DEFAULT_WORKDIR = "/tmp/mailtls-lab-others"
START_TIMEOUT = 30.0
FAMILIES = ("exim", "opensmtpd", "sendmail")
_MARKER = ".mailtls-lab"


def chroot_dir(family: str) -> Path:
    return Path(os.environ.get("MAILTLS_LAB_CHROOTS") or DEFAULT_CHROOTS) / family


def _workdir() -> Path:
    return Path(os.environ.get("MAILTLS_LAB_OTHERS_DIR") or DEFAULT_WORKDIR)


class OtherLab:
    """The running servers (returned by :func:`start`); a context manager that stops them."""

    def __init__(self, pids: dict[str, int]):
        self.hosts = HOSTS
        #: daemon name -> pid, for the daemons started in the chroots.
        self.pids = pids

    def stop(self) -> None:
        stop()

    def status(self) -> dict[str, dict[int, bool]]:
        return status()

    def logs(self, lines: int = 15) -> str:
        return _log_tails(lines)

    def __enter__(self) -> OtherLab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start() -> OtherLab:
    """Write every configuration, start every server, wait until every port answers.

    Servers left running by an earlier start are stopped first. Raises lab.LabError (with
    the daemons' log tails) if a chroot is missing or something does not come up in time.
    """
    if os.geteuid() != 0:
        raise lab.LabError("the other servers run in chroots and need root")
    missing = [f for f in FAMILIES if not (chroot_dir(f) / ".mailtls-lab-packages").exists()]
    if missing:
        raise lab.LabError(f"no chroot for {', '.join(missing)}: run scripts/install-lab-servers.sh (as root)")
    stop()
    deadline = time.monotonic() + START_TIMEOUT
    certs = make_certificates(_workdir().parent / "mailtls-lab-others-certs", list(HOSTS))
    pids: dict[str, int] = {}
    try:
        lab.start(_workdir(), LAB_HOSTS)
        for family in FAMILIES:
            pids.update(_start_family(family, certs["good"][0].parent))
        _wait_for_ports(deadline, pids)
    except BaseException:
        stop()
        raise
    _pid_file().write_text("".join(f"{name} {pid}\n" for name, pid in pids.items()))
    return OtherLab(pids)


def _start_family(family: str, certs: Path) -> dict[str, int]:
    root = chroot_dir(family)
    chroot = servers.Chroot(family, root)
    labdir = chroot.lab
    if labdir.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(labdir)], check=True)
    labdir.mkdir()
    (labdir / _MARKER).write_text("made by lab.others.start(); emptied at every start\n")
    servers.prepare_common(chroot, certs)
    daemons = servers.PREPARE[family](chroot)
    _mount_proc(root)
    for command in servers.SETUP_COMMANDS[family]:
        done = subprocess.run(["chroot", str(root), *command], capture_output=True, text=True, env=_ENV)
        if done.returncode:
            raise lab.LabError(f"{family}: {' '.join(command)} failed: {done.stderr.strip()}")
    pids = {}
    for daemon in daemons:
        log = open(labdir / "run" / f"{daemon.name}.log", "w")
        with log:
            process = subprocess.Popen(
                ["chroot", str(root), *daemon.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**_ENV, **daemon.env},
                start_new_session=True,  # setsid: its own session, no terminal
            )
        pids[daemon.name] = process.pid
    return pids


_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def _pid_file() -> Path:
    return chroot_dir("") / "running.pids"


def stop() -> None:
    """Stop every server of this lab, wait until no process is left in the chroots, unmount /proc."""
    roots = [chroot_dir(f) for f in FAMILIES]
    pids = []
    try:
        pids = [int(line.split()[1]) for line in _pid_file().read_text().splitlines()]
    except (OSError, ValueError, IndexError):
        pass
    for pid in pids:
        if _inside(pid, roots):  # still ours (a pid can be reused)
            _signal(pid, signal.SIGTERM)
    # Then whatever is left inside the chroots (children, helpers such as Courier's
    # authdaemond workers): every process whose root is one of them is this lab's.
    deadline = time.monotonic() + 10
    while (left := _in_chroots(roots)) and time.monotonic() < deadline:
        for pid in left:
            if pid not in pids:
                _signal(pid, signal.SIGTERM)
        pids += left
        time.sleep(0.1)
    for pid in _in_chroots(roots):
        _signal(pid, signal.SIGKILL)
    for root in roots:
        while os.path.ismount(root / "proc"):
            if subprocess.run(["umount", str(root / "proc")], capture_output=True).returncode:
                time.sleep(0.2)
                subprocess.run(["umount", "-l", str(root / "proc")], capture_output=True)
    _pid_file().unlink(missing_ok=True)
    lab.stop(_workdir(), LAB_HOSTS)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _root_of(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/root"))
    except OSError:
        return None


def _inside(pid: int, roots: list[Path]) -> bool:
    """The process's root is one of the chroots, or a directory in one: OpenSMTPD's and
    Postfix-like privilege-separated helpers chroot further (OpenSMTPD to /var/empty)."""
    root = _root_of(pid)
    return root is not None and any(root.is_relative_to(r) for r in roots)


def _in_chroots(roots: list[Path]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _inside(int(entry.name), roots):
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def _mount_proc(root: Path) -> None:
    if not os.path.ismount(root / "proc"):
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)


# -- readiness ---------------------------------------------------------------------------


def status() -> dict[str, dict[int, bool]]:
    """host name -> {port: the server there answers (greets, or completes TLS where it can)}."""
    return {h.name: {p.port: _answers(h.address, p) for p in h.ports} for h in HOSTS.values()}


def _answers(address: str, expect: Expect) -> bool:
    try:
        with socket.create_connection((address, expect.port), timeout=3) as raw:
            if expect.mode != "implicit":
                return bool(raw.recv(64))
            if not expect.tls:  # TLS that never completes: listening is all it does
                return True
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.set_ciphers("ALL:@SECLEVEL=0")
            with context.wrap_socket(raw) as tls:
                return bool(tls.recv(64))
    except (OSError, ssl.SSLError):
        return False


def _wait_for_ports(deadline: float, pids: dict[str, int]) -> None:
    waiting = [(h, p) for h in HOSTS.values() if h.family != "host" for p in h.ports]
    while waiting:
        dead = [name for name, pid in pids.items() if _root_of(pid) is None]
        if dead:
            raise lab.LabError(f"exited after starting: {', '.join(dead)}\n{_log_tails()}")
        waiting = [(h, p) for h, p in waiting if not _answers(h.address, p)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            where = ", ".join(f"{h.name} {h.address}:{p.port}" for h, p in waiting)
            raise lab.LabError(f"not answering after {START_TIMEOUT:.0f} s: {where}\n{_log_tails()}")
        time.sleep(0.1)


def _log_tails(lines: int = 15) -> str:
    out = []
    for family in FAMILIES:
        for log in sorted((chroot_dir(family) / "lab" / "run").glob("**/*log")):
            if log.is_file():
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {log}\n" + "\n".join(tail))
    return "\n".join(out)
