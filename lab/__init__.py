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
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from . import config
from .certs import make_certificates
from .hosts import HOSTS, LabHost

__all__ = ["HOSTS", "Lab", "LabError", "LabHost", "start", "status", "stop"]

DEFAULT_WORKDIR = "/tmp/mailtls-lab"
_MARKER = ".mailtls-lab"
START_TIMEOUT = 20.0


class LabError(RuntimeError):
    """The lab could not be started or stopped; the message ends with the relevant log tail."""


def _workdir(workdir: str | os.PathLike | None) -> Path:
    return Path(workdir or os.environ.get("MAILTLS_LAB_DIR") or DEFAULT_WORKDIR).resolve()


class Lab:
    """A running lab (returned by :func:`start`); a context manager that stops it on exit."""

    def __init__(self, workdir: Path, hosts: Mapping[str, LabHost] = HOSTS):
        self.workdir = workdir
        self.hosts = hosts

    def stop(self) -> None:
        stop(self.workdir, self.hosts)

    def status(self) -> dict[str, dict[int, bool]]:
        return status(self.hosts)

    def logs(self, lines: int = 15) -> str:
        """The last lines of every server log (for a failing test's message)."""
        return _log_tails(self.workdir, lines)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Lab({str(self.workdir)!r})"


def _dovecot_hosts(hosts: Mapping[str, LabHost]) -> list[LabHost]:
    return [h for h in hosts.values() if h.dovecot]


def start(workdir: str | os.PathLike | None = None, hosts: Mapping[str, LabHost] = HOSTS) -> Lab:
    """Write the configs and certificates, start every server, wait until every port answers.

    ``hosts`` is the set of hosts to run (default: the lab's own, :data:`HOSTS`); another
    set, such as ``lab.others``'s Postfix and Dovecot hosts, runs as separate instances in
    its own work directory, and is stopped with the same set.

    A lab left running in the same work directory (by this or an earlier process) is
    stopped first, so calling start twice is safe. Raises LabError (with the servers'
    log tails) if something does not come up within START_TIMEOUT seconds.
    """
    root = _workdir(workdir)
    _check_tools()
    stop(root, hosts)
    deadline = time.monotonic() + START_TIMEOUT
    if root.exists():
        # Emptied at every start: refuse to empty a directory the lab did not make.
        if any(root.iterdir()) and not (root / _MARKER).exists():
            raise LabError(f"{root} exists and is not a lab work directory: not touching it")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    root.chmod(0o755)  # Dovecot and Postfix drop privileges and must reach their sockets
    (root / _MARKER).write_text("made by lab.start(); emptied at every start\n")
    certs = make_certificates(root / "certs", list(hosts))
    config.write_users(root)
    commands = []
    for host in _dovecot_hosts(hosts):
        conf = config.dovecot_dir(root, host) / "dovecot.conf"
        conf.parent.mkdir()
        conf.write_text(config.dovecot_conf(root, host, certs))
        commands.append(["dovecot", "-c", str(conf)])
    etc = root / "postfix" / "etc"
    etc.mkdir(parents=True)
    (root / "postfix" / "spool").mkdir()  # root-owned; postfix start makes the rest
    (etc / "main.cf").write_text(config.postfix_main_cf(root))
    (etc / "master.cf").write_text(config.postfix_master_cf(root, list(hosts.values()), certs))
    commands.append(["postfix", "-c", str(etc), "start"])
    try:
        _run(commands, root)
        _wait_for_ports(root, deadline, hosts)
        # Ports answering is not enough: another lab (other work directory) may hold them.
        if len(_masters(root, hosts)) != len(commands):
            raise LabError(f"a server exited after starting (port taken?)\n{_log_tails(root)}")
    except BaseException:
        stop(root, hosts)
        raise
    return Lab(root, hosts)


def stop(workdir: str | os.PathLike | None = None, hosts: Mapping[str, LabHost] = HOSTS) -> None:
    """Stop every server of the lab in ``workdir`` (started with ``hosts``); wait until their processes are gone."""
    root = _workdir(workdir)
    masters = _masters(root, hosts)
    processes = _with_descendants(list(masters.values()))
    # `dovecot stop` waits 2-3 s for its master to exit: stop them all side by side.
    _run([[*command, "stop"] for command in masters], root, check=False)
    for pid in masters.values():  # the stop command failed (config unreadable?): signal it
        if pid in processes and _start_time(pid) == processes[pid]:
            os.kill(pid, signal.SIGTERM)
    # Wait until they are gone, zombies included: Dovecot's stats process outlives its
    # master and is reaped by init a second or two later.
    deadline = time.monotonic() + 10
    while processes and time.monotonic() < deadline:
        processes = {p: t for p, t in processes.items() if _start_time(p, zombie=True) == t}
        if processes:
            time.sleep(0.05)
    for pid, started in processes.items():  # still running after 10 s: kill just those
        if _start_time(pid) == started:
            os.kill(pid, signal.SIGKILL)


def status(hosts: Mapping[str, LabHost] = HOSTS) -> dict[str, dict[int, bool]]:
    """host name -> {port: a server there greets as it should (over TLS for implicit TLS)}."""
    return {h.name: {p: _answers(h.address, p, s) for p, s in h.services.items()} for h in hosts.values()}


# -- processes ---------------------------------------------------------------------------


def _check_tools() -> None:
    missing = [t for t in ("dovecot", "postfix", "nmap") if not shutil.which(t)]
    if missing:
        raise LabError(f"not installed: {', '.join(missing)}; run scripts/install-system.sh (as root)")
    if os.geteuid() != 0:
        raise LabError("the lab runs Dovecot and Postfix instances and needs root")


def _run(commands: list[list[str]], root: Path, check: bool = True) -> None:
    """Run start/stop commands side by side. Their output goes to a file, not a pipe: the
    daemons they leave behind inherit it, and a pipe would never reach end-of-file."""
    if not commands:
        return
    root.mkdir(parents=True, exist_ok=True)
    logs = [root / f"command-{i}.log" for i in range(len(commands))]
    running = []
    for command, log in zip(commands, logs, strict=True):
        with open(log, "w") as out:
            running.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out))
    failed = []
    for command, log, process in zip(commands, logs, running, strict=True):
        code = process.wait(timeout=60)
        if code and check:
            failed.append(f"{' '.join(command)} failed ({code}): {log.read_text().strip()}")
        log.unlink()
    if failed:
        raise LabError("\n".join(failed) + "\n" + _log_tails(root))


def _masters(root: Path, hosts: Mapping[str, LabHost]) -> dict[tuple[str, ...], int]:
    """The running master processes of the lab in ``root``: start command -> pid."""
    found = {}
    etc = str(root / "postfix" / "etc")
    pid = _read_pid(root / "postfix" / "spool" / "pid" / "master.pid", f"MAIL_CONFIG={etc}")
    if pid:
        found["postfix", "-c", etc] = pid
    for host in _dovecot_hosts(hosts):
        conf = str(config.dovecot_dir(root, host) / "dovecot.conf")
        pid = _read_pid(config.dovecot_dir(root, host) / "run" / "master.pid", conf)
        if pid:
            found["dovecot", "-c", conf] = pid
    return found


def _read_pid(path: Path, mark: str) -> int | None:
    """The pid in ``path`` if that process is alive and really ours: its command line or
    environment holds ``mark`` (a stale pid file may name a reused pid)."""
    try:
        pid = int(path.read_text().split()[0])
        proc = Path(f"/proc/{pid}")
        ours = mark.encode() in (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if ours and _start_time(pid) is not None else None


def _start_time(pid: int, zombie: bool = False) -> str | None:
    """The process's start time (identifies it even if the pid is reused), None if it is
    gone (or a zombie, unless ``zombie``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" and not zombie else fields[19]


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


#: What each protocol says first; SMTP is also asked EHLO, which makes smtpd contact
#: Dovecot's auth socket and dies at once if SASL is misconfigured.
_GREETINGS = {"smtp": b"220 ", "imap": b"* OK", "pop3": b"+OK"}


def _answers(address: str, port: int, service: str) -> bool:
    """True if the server on ``address:port`` greets as ``service`` (over TLS for smtps etc.)."""
    protocol = service.removesuffix("s")  # smtps -> smtp, imaps -> imap, pop3s -> pop3
    try:
        with socket.create_connection((address, port), timeout=2) as raw:
            sock = raw
            if protocol != service:  # implicit TLS: any certificate, the weak one included
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                context.set_ciphers("ALL:@SECLEVEL=0")
                sock = context.wrap_socket(raw)
            reply = _read_until(sock, lambda data: b"\n" in data)
            if not reply.startswith(_GREETINGS[protocol]):
                return False
            if protocol == "smtp":
                sock.sendall(b"EHLO lab-check\r\n")
                reply = _read_until(sock, lambda data: data.startswith(b"250 ") or b"\n250 " in data)
                sock.sendall(b"QUIT\r\n")
                return b"250 " in reply
            return True
    except (OSError, ssl.SSLError):
        return False


def _read_until(sock: socket.socket, done) -> bytes:
    data = b""
    while not done(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _wait_for_ports(root: Path, deadline: float, hosts: Mapping[str, LabHost]) -> None:
    waiting = [(h.address, p, s) for h in hosts.values() for p, s in h.services.items()]
    while waiting:
        waiting = [w for w in waiting if not _answers(*w)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            where = ", ".join(f"{a}:{p} ({s})" for a, p, s in waiting)
            raise LabError(f"not answering after {START_TIMEOUT:.0f} s: {where}\n{_log_tails(root)}")
        time.sleep(0.05)


def _log_tails(root: Path, lines: int = 15) -> str:
    logs = [*sorted(root.glob("dovecot-*/dovecot.log")), root / "postfix" / "postfix.log"]
    out = []
    for log in logs:
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log}\n" + "\n".join(tail))
    return "\n".join(out)
