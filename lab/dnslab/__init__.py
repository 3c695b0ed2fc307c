"""The domain lab: mail domains with MX, MTA-STS, TLS-RPT and DANE, on 127.53.0.0/16 only.

    >>> from lab import dnslab
    >>> with dnslab.start() as running:
    ...     report = mailtls.assess_domain("enforce.mailtls.test", resolver=running.resolver(),
    ...                                    ca_file=running.ca_file)

What runs (all on loopback, all files under /tmp/mailtls-dnslab or $MAILTLS_DNSLAB_DIR):

- Knot on 127.53.0.1:53, authoritative for ``mailtls.test.`` and one child zone per
  lab domain (``lab/dnslab/zones.py``), pre-signed here with dnspython;
- Unbound on 127.53.0.2:53, validating, with the parent zone's DS as its only trust
  anchor (so the AD bit is real) and every other name stubbed to Knot (so nothing
  leaves loopback);
- one Postfix instance with an smtpd listener on port 25 of every MX address, each with
  a certificate from the lab's CA (``pki.py``); it discards all mail and never uses DNS;
- the MTA-STS policy server (``lab/mtasts.py``) on 127.53.0.10:443;
- the injectable STARTTLS server (``lab/injectable.py``) on 127.53.9.1: 25, 110, 143.

Needs root (ports 25, 53, 443; Postfix) and knotd, unbound, postfix installed
(scripts/install-system.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .. import config as _main_config
from .. import injectable, mtasts
from . import dns as _dns
from .pki import LabCa
from .zones import PARENT, RESOLVER, ZONES, MailZone, Mx, mx_listeners, policy_names, zone_by_label

__all__ = ["RESOLVER", "ZONES", "DomainLab", "MailZone", "Mx", "start", "stop", "zone_by_label"]

DEFAULT_WORKDIR = "/tmp/mailtls-dnslab"
_MARKER = ".mailtls-dnslab"
START_TIMEOUT = 20.0
_LAB_ROOT = Path(__file__).resolve().parent.parent.parent


class DomainLabError(RuntimeError):
    """The domain lab could not be started; the message ends with the logs' tails."""


def _workdir(workdir: str | os.PathLike | None) -> Path:
    return Path(workdir or os.environ.get("MAILTLS_DNSLAB_DIR") or DEFAULT_WORKDIR).resolve()


class DomainLab:
    """A running domain lab (from :func:`start`); a context manager that stops it."""

    zones = ZONES

    def __init__(self, workdir: Path):
        self.workdir = workdir
        #: The lab CA: what mailtls must be told to trust (``ca_file``).
        self.ca_file = workdir / "ca" / "ca.crt"

    def resolver(self, lifetime: float = 5.0):
        """A dnspython resolver that asks the lab's validating Unbound, and nothing else."""
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [RESOLVER]
        resolver.port = 53
        resolver.lifetime = resolver.timeout = lifetime
        return resolver

    def stop(self) -> None:
        stop(self.workdir)

    def logs(self, lines: int = 20) -> str:
        return _log_tails(self.workdir, lines)

    def __enter__(self) -> DomainLab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(workdir: str | os.PathLike | None = None) -> DomainLab:
    root = _workdir(workdir)
    missing = [t for t in ("knotd", "unbound", "postfix") if not shutil.which(t)]
    if missing:
        raise DomainLabError(f"not installed: {', '.join(missing)}; run scripts/install-system.sh (as root)")
    if os.geteuid() != 0:
        raise DomainLabError("the domain lab binds ports 25, 53 and 443 and runs Postfix: it needs root")
    stop(root)
    if root.exists():
        if any(root.iterdir()) and not (root / _MARKER).exists():
            raise DomainLabError(f"{root} exists and is not a domain-lab work directory: not touching it")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    root.chmod(0o755)
    (root / _MARKER).write_text("made by lab.dnslab.start(); emptied at every start\n")
    try:
        _prepare(root)
        _launch(root)
        _wait_ready(root, time.monotonic() + START_TIMEOUT)
    except BaseException:
        stop(root)
        raise
    return DomainLab(root)


def _prepare(root: Path) -> None:
    ca = LabCa(root / "ca")
    served = {}
    for name, _address, kind in mx_listeners():
        names = [name] if kind == "good" else ["other-name.mailtls.test"]
        served[name] = ca.issue(name, names)
    policy_crt, policy_key, _ = ca.issue("mta-sts", policy_names())
    inj_crt, inj_key, _ = ca.issue("injectable", [injectable.NAME])
    anchor = _dns.write_zones(root / "zones", {name: cert for name, (_, _, cert) in served.items()})
    (root / "trust-anchor").write_text(anchor + "\n")
    for sub in ("knot/db", "unbound", "mtasts"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "knot" / "knot.conf").write_text(_dns.knot_conf(root))
    (root / "unbound" / "unbound.conf").write_text(_dns.unbound_conf(root, anchor))
    # The policy server's answers, by Host header.
    policies = {}
    for zone in ZONES:
        if zone.policy is None:
            continue
        host = f"mta-sts.{zone.name}"
        if zone.policy.serve == "redirect":
            policies[host] = {"status": 302, "body": "", "headers": {"Location": f"https://{host}/elsewhere.txt"}}
        else:
            body = mtasts.policy_text(zone.policy.mode, zone.policy.mx, zone.policy.max_age)
            policies[host] = {"status": 200, "body": body, "headers": {}}
    (root / "mtasts" / "policies.json").write_text(json.dumps(policies, indent=1))
    shutil.copy(policy_crt, root / "mtasts" / "server.crt")
    shutil.copy(policy_key, root / "mtasts" / "server.key")
    (root / "injectable.paths").write_text(f"{inj_crt}\n{inj_key}\n")
    # One Postfix instance, as the main lab's (lab/config.py), with its own directories.
    pdir = root / "postfix"
    (pdir / "etc").mkdir(parents=True)
    (pdir / "spool").mkdir()
    (pdir / "etc" / "main.cf").write_text(_main_config.postfix_main_cf(root))
    lines = [_main_config._MASTER_BASE]
    for name, address, _kind in mx_listeners():
        crt, key, _ = served[name]
        lines.append(f"# MX {name}")
        lines.append(f"{address}:25 inet n - n - - smtpd")
        for option, value in (
            ("syslog_name", f"postfix-dnslab-{name.split('.')[0]}-{address}"),
            ("myhostname", name),
            ("smtpd_tls_security_level", "may"),
            ("smtpd_tls_chain_files", f"{key},{crt}"),
            ("smtpd_tls_protocols", ">=TLSv1.2"),
            ("smtpd_tls_mandatory_protocols", ">=TLSv1.2"),
            ("tls_medium_cipherlist", "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"),
            ("smtpd_tls_ciphers", "medium"),
            ("disable_vrfy_command", "yes"),
        ):
            lines.append(f"  -o {{ {option} = {value} }}")
    (pdir / "etc" / "master.cf").write_text("\n".join(lines) + "\n")


def _spawn(root: Path, name: str, command: list[str]) -> None:
    log = open(root / f"{name}.out", "w")
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=_LAB_ROOT, start_new_session=True
    )
    pids = _pids(root)
    pids[name] = [process.pid, _start_time(process.pid)]
    (root / "pids.json").write_text(json.dumps(pids))


def _launch(root: Path) -> None:
    _spawn(root, "knot", ["knotd", "-c", str(root / "knot" / "knot.conf")])
    _spawn(root, "unbound", ["unbound", "-d", "-c", str(root / "unbound" / "unbound.conf")])
    _spawn(root, "mtasts", [sys.executable, "-m", "lab.mtasts", str(root)])
    crt, key = (root / "injectable.paths").read_text().split()
    _spawn(root, "injectable", [sys.executable, "-m", "lab.injectable", crt, key])
    done = subprocess.run(
        ["postfix", "-c", str(root / "postfix" / "etc"), "start"], capture_output=True, text=True, timeout=60
    )
    if done.returncode:
        raise DomainLabError(f"postfix start failed: {done.stdout}{done.stderr}\n{_log_tails(root)}")


def _answers_smtp(address: str) -> bool:
    try:
        with socket.create_connection((address, 25), timeout=1) as sock:
            return sock.recv(512).startswith(b"220 ")
    except OSError:
        return False


def _answers_dns(root: Path) -> bool:
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode

    query = dns.message.make_query(f"mx1.enforce.{PARENT}", "A", want_dnssec=True)
    try:
        reply = dns.query.udp(query, RESOLVER, timeout=1)
    except (OSError, dns.exception.DNSException):
        return False
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.flags & dns.flags.AD)


def _answers_tls(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_ready(root: Path, deadline: float) -> None:
    checks = {f"smtp {a}": (lambda a=a: _answers_smtp(a)) for _, a, _ in mx_listeners()}
    checks["validated DNS answer from Unbound"] = lambda: _answers_dns(root)
    checks["policy server"] = lambda: _answers_tls(mtasts.ADDRESS, mtasts.PORT)
    checks.update(
        {f"injectable {p}": (lambda p=p: _answers_tls(injectable.ADDRESS, p)) for p in injectable.PORTS.values()}
    )
    while checks:
        checks = {name: check for name, check in checks.items() if not check()}
        if not checks:
            return
        if time.monotonic() > deadline:
            raise DomainLabError(f"not ready after {START_TIMEOUT:.0f} s: {', '.join(checks)}\n{_log_tails(root)}")
        time.sleep(0.1)


def stop(workdir: str | os.PathLike | None = None) -> None:
    """Stop what a lab in ``workdir`` started: only the processes it recorded, by pid."""
    root = _workdir(workdir)
    etc = root / "postfix" / "etc"
    if (etc / "main.cf").exists() and (root / "postfix" / "spool" / "pid" / "master.pid").exists():
        subprocess.run(["postfix", "-c", str(etc), "stop"], capture_output=True, timeout=60)
    pids = _pids(root)
    for pid, started in pids.values():
        if _start_time(pid) == started:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for pid, started in pids.values():
        while _start_time(pid) == started and time.monotonic() < deadline:
            time.sleep(0.05)
        if _start_time(pid) == started:
            os.kill(pid, signal.SIGKILL)
    if pids:
        (root / "pids.json").unlink(missing_ok=True)


def _pids(root: Path) -> dict[str, list]:
    try:
        return json.loads((root / "pids.json").read_text())
    except (OSError, ValueError):
        return {}


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _log_tails(root: Path, lines: int = 20) -> str:
    logs = [
        *root.glob("*.out"),
        root / "knot" / "knot.log",
        root / "unbound" / "unbound.log",
        root / "postfix" / "postfix.log",
    ]
    out = []
    for log in logs:
        if log.exists():
            out.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(out)
