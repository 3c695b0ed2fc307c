"""``mailtls.diff`` of a real Dovecot scanned twice with its configuration changed in between
(its own instance on 127.0.0.87, outside the lab's addresses, so no other test is disturbed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import mailtls
from lab import config
from lab.certs import make_certificates
from lab.hosts import GOOD, Dovecot, LabHost
from mailtls.cli import main

ADDRESS = "127.0.0.87"
PORTS = (110, 143)


class OwnDovecot:
    """One Dovecot instance on ADDRESS, written with the lab's own config writer."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.certs = make_certificates(workdir / "certs", ["difftest"])
        config.write_users(workdir)
        self.conf: Path | None = None

    def start(self, dovecot: Dovecot) -> None:
        host = LabHost("difftest", ADDRESS, PORTS, "diff test host", dovecot=dovecot)
        directory = config.dovecot_dir(self.workdir, host)
        directory.mkdir(exist_ok=True)
        self.conf = directory / "dovecot.conf"
        self.conf.write_text(config.dovecot_conf(self.workdir, host, self.certs))
        # Output to a file, not a pipe: the daemon inherits it, and a pipe would never close.
        with open(self.workdir / "start.log", "w") as log:
            subprocess.run(["dovecot", "-c", str(self.conf)], check=True, stdout=log, stderr=log, timeout=30)
        deadline = time.monotonic() + 15
        while not all(_greets(port) for port in PORTS):
            assert time.monotonic() < deadline, "Dovecot did not come up on " + ADDRESS
            time.sleep(0.1)

    def stop(self) -> None:
        if self.conf is None:
            return
        with open(self.workdir / "stop.log", "w") as log:
            subprocess.run(["dovecot", "-c", str(self.conf), "stop"], stdout=log, stderr=log, timeout=30)
        deadline = time.monotonic() + 15
        while any(_greets(port) for port in PORTS) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.conf = None


def _greets(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((ADDRESS, port), timeout=1) as sock:
            return sock.recv(64).startswith((b"+OK", b"* OK"))
    except OSError:
        return False


@pytest.fixture
def own_dovecot():
    if os.geteuid() != 0 or not shutil.which("dovecot"):
        pytest.skip("needs root and Dovecot (scripts/install-system.sh)")
    # Dovecot's unprivileged processes must reach the work directory: not pytest's 0700 tmp.
    workdir = Path(tempfile.mkdtemp(prefix="mailtls-diff-"))
    workdir.chmod(0o755)
    server = OwnDovecot(workdir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.lab
def test_diff_of_a_server_reconfigured_between_two_scans(own_dovecot, tmp_path):
    # Given: last week's scan of a Dovecot with no TLS at all...
    own_dovecot.start(Dovecot(ssl="no"))
    old = mailtls.assess(ADDRESS, ports=PORTS)
    own_dovecot.stop()
    # ...and this week's, after the admin turned on STARTTLS with a certificate.
    own_dovecot.start(Dovecot(ssl="yes", tls=GOOD))
    new = mailtls.assess(ADDRESS, ports=PORTS)
    assert {f.rule_id for f in old.findings} >= {"MT101", "MT102"}

    # When
    changes = mailtls.diff(old, new)

    # Then: "no TLS" is resolved, the STARTTLS-only layout and the certificate are new,
    # and password-before-TLS is still there on both ports (the same, or reworded).
    assert {(f.rule_id, f.port) for f in changes.resolved} == {("MT101", 110), ("MT102", 143)}
    new_ids = {(f.rule_id, f.port) for f in changes.new}
    assert {("MT120", 110), ("MT120", 143), ("MT302", 110), ("MT302", 143)} <= new_ids
    kept = {(c.new.rule_id, c.new.port) for c in changes.changed} | {(f.rule_id, f.port) for f in new.findings}
    assert {("MT111", 110), ("MT112", 143)} <= kept
    assert changes.unchanged + len(changes.changed) == 2 and not changes.unverified
    assert not changes.only_in_old and not changes.only_in_new

    # And the CLI reads the two saved reports and gates on what is new.
    (tmp_path / "old.json").write_text(mailtls.to_json(old))
    (tmp_path / "new.json").write_text(mailtls.to_json(new))
    args = ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    assert main([*args, "--fail-on", "medium"]) == 1  # the self-signed certificate is new
    assert main([*args, "--fail-on", "high"]) == 0
    assert main([*args, "--format", "json", "-o", str(tmp_path / "diff.json")]) == 0
    document = json.loads((tmp_path / "diff.json").read_text())
    assert {f["rule_id"] for f in document["diff"]["resolved"]} == {"MT101", "MT102"}
