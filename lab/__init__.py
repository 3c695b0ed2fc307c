"""The loopback lab: real Dovecot and Postfix servers that mailtls's tests scan.

    >>> import lab
    >>> with lab.start() as running:          # up in a few seconds, every port answering
    ...     for host in lab.HOSTS.values():
    ...         print(host.name, host.address, host.ports, host.description)

One Dovecot instance per host (``dovecot -c FILE``) and one extra Postfix instance
(``postfix -c DIR``) with per-address listeners, all on 127.0.0.0/8, all files under
the work directory (default /tmp/mailtls-lab, or $MAILTLS_LAB_DIR). Needs root, and
nmap/Dovecot/Postfix installed (scripts/install-system.sh). Postfix discards all mail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from . import config
from .certs import make_certificates
from .hosts import HOSTS, LabHost

__all__ = ["HOSTS", "Lab", "LabError", "LabHost", "start", "stop", "status"]

DEFAULT_WORKDIR = "/tmp/mailtls-lab"
START_TIMEOUT = 20.0


class LabError(RuntimeError):
    """The lab could not be started or stopped; the message ends with the relevant log tail."""


def _workdir(workdir: str | os.PathLike | None) -> Path:
    return Path(workdir or os.environ.get("MAILTLS_LAB_DIR") or DEFAULT_WORKDIR).resolve()


class Lab:
    """A running lab (returned by :func:`start`); a context manager that stops it on exit."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.hosts = HOSTS

    def stop(self) -> None:
        stop(self.workdir)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Lab({str(self.workdir)!r})"


def _dovecot_hosts() -> list[LabHost]:
    return [h for h in HOSTS.values() if h.dovecot]


def start(workdir: str | os.PathLike | None = None) -> Lab:
    """Write the configs and certificates, start every server, wait until every port answers.

    A lab left running in the same work directory (by this or an earlier process) is
    stopped first, so calling start twice is safe.
    """
    root = _workdir(workdir)
    stop(root)
    _check_tools()
    started = time.monotonic()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    root.chmod(0o755)  # Dovecot and Postfix drop privileges and must reach their sockets
    certs = make_certificates(root / "certs", list(HOSTS))
    config.write_users(root)
    try:
        for host in _dovecot_hosts():
            conf = config.dovecot_dir(root, host) / "dovecot.conf"
            conf.parent.mkdir()
            conf.write_text(config.dovecot_conf(root, host, certs))
            _run(["dovecot", "-c", str(conf)], root)
        pdir = root / "postfix"
        (pdir / "etc").mkdir(parents=True)
        (pdir / "etc" / "main.cf").write_text(config.postfix_main_cf(root))
        (pdir / "etc" / "master.cf").write_text(config.postfix_master_cf(root, list(HOSTS.values()), certs))
        _run(["postfix", "-c", str(pdir / "etc"), "start"], root)
        _wait_for_ports(root, started + START_TIMEOUT)
    except BaseException:
        stop(root)
        raise
    return Lab(root)


def stop(workdir: str | os.PathLike | None = None) -> None:
    """Stop every server of the lab in ``workdir`` and wait until all their processes are gone."""
    root = _workdir(workdir)
    masters = [p for p in (_postfix_pid(root), *(_dovecot_pid(root, h) for h in _dovecot_hosts())) if p]
    processes = _with_descendants(masters)
    postfix_etc = root / "postfix" / "etc"
    if _postfix_pid(root):
        subprocess.run(["postfix", "-c", str(postfix_etc), "stop"], capture_output=True, timeout=30)
    for host in _dovecot_hosts():
        if _dovecot_pid(root, host):
            conf = config.dovecot_dir(root, host) / "dovecot.conf"
            subprocess.run(["dovecot", "-c", str(conf), "stop"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while processes and time.monotonic() < deadline:
        processes = {p: t for p, t in processes.items() if _start_time(p) == t}
        if processes:
            time.sleep(0.05)
    for pid in processes:  # still there after 10 s: only the exact processes we started
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def status(workdir: str | os.PathLike | None = None) -> dict[str, dict[int, bool]]:
    """host name -> {port: accepts TCP connections}."""
    return {h.name: {p: _accepts(h.address, p) for p in h.ports} for h in HOSTS.values()}


# -- processes ---------------------------------------------------------------------------


def _check_tools() -> None:
    missing = [t for t in ("dovecot", "postfix", "nmap") if not shutil.which(t)]
    if missing:
        raise LabError(f"not installed: {', '.join(missing)}; run scripts/install-system.sh (as root)")
    if os.geteuid() != 0:
        raise LabError("the lab runs Dovecot and Postfix instances and needs root")


def _run(command: list[str], root: Path) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise LabError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{_log_tails(root)}")


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _start_time(pid) is not None else None


def _postfix_pid(root: Path) -> int | None:
    return _read_pid(root / "postfix" / "spool" / "pid" / "master.pid")


def _dovecot_pid(root: Path, host: LabHost) -> int | None:
    return _read_pid(config.dovecot_dir(root, host) / "run" / "master.pid")


def _start_time(pid: int) -> str | None:
    """The process's start time (identifies it even if the pid is reused), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _with_descendants(pids: list[int]) -> dict[int, str]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(pids)
    while todo:
        pid = todo.pop()
        started = _start_time(pid)
        if started is not None and pid not in found:
            found[pid] = started
            todo += children.get(pid, [])
    return found


# -- readiness ---------------------------------------------------------------------------


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_for_ports(root: Path, deadline: float) -> None:
    waiting = [(h.address, p) for h in HOSTS.values() for p in h.ports]
    while waiting:
        waiting = [(a, p) for a, p in waiting if not _accepts(a, p)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            where = ", ".join(f"{a}:{p}" for a, p in waiting)
            raise LabError(f"not listening after {START_TIMEOUT:.0f} s: {where}\n{_log_tails(root)}")
        time.sleep(0.05)


def _log_tails(root: Path, lines: int = 15) -> str:
    logs = sorted(root.glob("dovecot-*/dovecot.log")) + [root / "postfix" / "postfix.log"]
    out = []
    for log in logs:
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log}\n" + "\n".join(tail))
    return "\n".join(out)
