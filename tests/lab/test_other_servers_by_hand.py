"""The other real servers (lab.others) do what their declarations say, checked without mailtls.

Each expectation in lab/others/hosts.py is checked here by independent means against the
running servers: ``openssl s_client`` for the TLS versions, the handshake and the
certificate; plain Python sockets (and ``ssl`` for the session after TLS) for greetings,
EHLO/CAPABILITY/CAPA, logins before TLS with a user that cannot exist, ``MAIL FROM:<>``
on submission ports (then RSET and QUIT: never a recipient), and each connection limit;
``strace`` for how imap4d writes its CAPABILITY reply. The rule ids beside each port are
what mailtls must then report; only their spelling is checked here.
"""

from __future__ import annotations

import base64
import fcntl
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import lab.others
from lab.forwarder import Forwarder
from lab.others import HOSTS, Expect, OtherHost

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
PORTS = [(h, p) for h in HOSTS.values() for p in h.ports]
TLS_PORTS = [(h, p) for h, p in PORTS if p.mode != "plain"]
CLEAR_PORTS = [(h, p) for h, p in PORTS if p.mode != "implicit"]
LIMITS = [(h, limit) for h in HOSTS.values() for limit in h.limits]


def _id(value) -> str:
    if isinstance(value, OtherHost):
        return value.name
    if isinstance(value, Expect):
        return str(value.port)
    if isinstance(value, lab.others.Limit):
        return f"{value.port}-limit"
    return str(value)


@pytest.fixture(scope="session")
def other_lab():
    # One run of these servers per machine at a time (they hold fixed addresses); not the
    # main lab's lock, which the same session may already hold through another fixture.
    with open("/tmp/mailtls-lab-others.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = lab.others.start()
        try:
            yield running
        finally:
            running.stop()
        # Nothing left behind: no process inside a chroot, no /proc mounted there.
        roots = [lab.others.chroot_dir(f) for f in lab.others.FAMILIES]
        assert lab.others._in_chroots(roots) == []
        assert not any(os.path.ismount(r / "proc") for r in roots)


# -- talking to a server ------------------------------------------------------------------


class Session:
    """One connection speaking SMTP, IMAP or POP3; ``tls()`` upgrades it (or starts in TLS)."""

    def __init__(self, address: str, expect: Expect, timeout: float = 10):
        self.protocol = expect.protocol
        self.sock: socket.socket = socket.create_connection((address, expect.port), timeout=timeout)
        self.buffer = b""
        if expect.mode == "implicit":
            self._wrap()
        self.greeting = self.line()

    def _wrap(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")
        self.sock = context.wrap_socket(self.sock)
        self.buffer = b""

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed by the server after {self.buffer!r}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def send(self, command: str) -> None:
        self.sock.sendall(command.encode() + b"\r\n")

    def reply(self, command: str | None = None, tag: str = "a") -> list[str]:
        """The whole reply to ``command``: SMTP's NNN- lines, IMAP up to the tagged line,
        POP3's first line (and its dot-terminated list after +OK for CAPA)."""
        if command is not None:
            self.send(command)
        lines = [self.line()]
        if self.protocol == "smtp":
            while lines[-1][3:4] == "-":
                lines.append(self.line())
        elif self.protocol == "imap":
            while not lines[-1].startswith(f"{tag} "):
                lines.append(self.line())
        elif command == "CAPA" and lines[0].startswith("+OK"):
            while lines[-1] != ".":
                lines.append(self.line())
        return lines

    def capabilities(self) -> list[str]:
        """EHLO keywords lines, IMAP CAPABILITY atoms, or POP3 CAPA lines."""
        if self.protocol == "smtp":
            return [line[4:] for line in self.reply("EHLO lab-check.lab.mailtls.test")[1:]]
        if self.protocol == "imap":
            lines = self.reply("a CAPABILITY")
            return next(line.split()[2:] for line in lines if line.startswith("* CAPABILITY"))
        return self.reply("CAPA")[1:-1]

    def starttls(self) -> None:
        if self.protocol == "smtp":
            self.reply("EHLO lab-check.lab.mailtls.test")
            answer = self.reply("STARTTLS")[-1]
            assert answer.startswith("220"), answer
        elif self.protocol == "imap":
            answer = self.reply("t STARTTLS", tag="t")[-1]
            assert answer.startswith("t OK"), answer
        else:
            answer = self.reply("STLS")[0]
            assert answer.startswith("+OK"), answer
        self._wrap()

    def close(self) -> None:
        try:
            self.send({"smtp": "QUIT", "imap": "z LOGOUT", "pop3": "QUIT"}[self.protocol])
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def has(capabilities: list[str], word: str) -> bool:
    """``word`` (one or more tokens) opens a capability line, or is one of a POP3 SASL line's
    mechanisms; a word ending in "=" is a prefix of an IMAP atom (AUTH=)."""
    if word.endswith("="):
        return any(c.upper().startswith(word) for c in capabilities)
    tokens = word.upper().split()
    for line in capabilities:
        parts = line.upper().split()
        if parts[: len(tokens)] == tokens or (parts[:1] == ["SASL"] and word.upper() in parts[1:]):
            return True
    return False


def openssl(expect: Expect, address: str, *options: str, send: str = "") -> str:
    """openssl s_client's whole output, STARTTLS for the port's protocol where it has it."""
    starttls = ["-starttls", expect.protocol] if expect.mode == "starttls" else []
    done = subprocess.run(
        ["openssl", "s_client", *starttls, "-connect", f"{address}:{expect.port}", "-servername", address, *options],
        input=send,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout + done.stderr


#: A command the server answers and then closes on, and a word of its answer.
_QUIT = {"smtp": ("QUIT", "221"), "imap": ("a LOGOUT", "* BYE"), "pop3": ("QUIT", "+OK")}


def full_handshake(expect: Expect, address: str, version: str) -> bool:
    """A handshake with exactly ``version`` completes and the server answers inside it."""
    command, answer = _QUIT[expect.protocol]
    out = openssl(
        expect, address, f"-{version}", "-cipher", "DEFAULT:@SECLEVEL=0", "-crlf", "-ign_eof", send=command + "\n"
    )
    # s_client prints "New, <version>, Cipher is ..." once it has the server's first
    # flight (even when the server then aborts); only an answer to the command after that
    # shows that the server finished the handshake too. (The error OpenSSL 3 prints when
    # a server closes without close_notify comes after the answer, and is no failure.)
    summary = out.find("\nNew, ")
    if summary < 0 or "Cipher is (NONE)" in out:
        return False
    return answer in out[summary:]


# -- sanity of the declarations -------------------------------------------------------------


def test_declared_rule_ids_exist_and_give_reasons():
    known = set(re.findall(r"^## (MT\d{3})$", (ROOT / "docs" / "rules.md").read_text(), re.M))
    for host, expect in PORTS:
        for rule, reason in {**expect.rules, **expect.tolerated}.items():
            assert rule in known, f"{host.name}:{expect.port} {rule}"
            assert reason.strip(), f"{host.name}:{expect.port} {rule} has no reason"
        assert not set(expect.rules) & set(expect.tolerated)


def test_hosts_stay_in_their_loopback_block():
    block = ipaddress.ip_network("127.0.2.0/24")
    addresses = [h.address for h in HOSTS.values()]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(a) in block for a in addresses)


def test_listeners_bind_only_their_own_addresses(other_lab):
    # Every TCP socket a chrooted server listens on is one of the lab's 127.0.2.x addresses.
    roots = [lab.others.chroot_dir(f) for f in lab.others.FAMILIES]
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    ours = {h.address for h in HOSTS.values()}
    seen = set()
    for line in out.splitlines():
        local = line.split()[3]
        if any(lab.others._inside(int(pid), roots) for pid in re.findall(r"pid=(\d+)", line)):
            assert local.rsplit(":", 1)[0] in ours, line
            seen.add(local)
    assert seen == {f"{h.address}:{p.port}" for h in HOSTS.values() if h.family != "host" for p in h.ports}


# -- each port, by hand ----------------------------------------------------------------------


@pytest.mark.parametrize(("host", "expect"), [pe for pe in PORTS if pe[1].tls or pe[1].mode != "implicit"], ids=_id)
def test_banner(other_lab, host, expect):
    with Session(host.address, expect) as session:
        assert expect.banner in session.greeting


@pytest.mark.parametrize(("host", "expect"), CLEAR_PORTS, ids=_id)
def test_capabilities_before_tls(other_lab, host, expect):
    with Session(host.address, expect) as session:
        capabilities = session.capabilities()
    assert [w for w in expect.before if not has(capabilities, w)] == [], capabilities
    assert [w for w in expect.not_before if has(capabilities, w)] == [], capabilities
    assert has(capabilities, {"smtp": "STARTTLS", "imap": "STARTTLS", "pop3": "STLS"}[expect.protocol]) == (
        expect.mode == "starttls"
    )
    if expect.protocol == "smtp":
        assert (has(capabilities, "VRFY") or has(capabilities, "EXPN")) == expect.vrfy_expn


@pytest.mark.parametrize(("host", "expect"), TLS_PORTS, ids=_id)
def test_tls_versions(other_lab, host, expect):
    completed = tuple(v for v in lab.others.hosts.ALL_TLS if full_handshake(expect, host.address, v))
    assert completed == expect.tls


@pytest.mark.parametrize(("host", "expect"), TLS_PORTS, ids=_id)
def test_certificate(other_lab, host, expect):
    # The certificate the server sends (even where the handshake is then aborted) is the
    # declared profile's, byte for byte.
    out = openssl(expect, host.address, "-showcerts")
    served = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", out, re.S)
    assert served, out[-2000:]
    if host.family == "host":
        certs = Path(lab.others.DEFAULT_WORKDIR) / "certs"
    else:
        certs = lab.others.chroot_dir(host.family) / "lab" / "certs"
    assert served.group(0).strip() == (certs / f"{expect.cert}.crt").read_text().strip()


@pytest.mark.parametrize(("host", "expect"), [pe for pe in TLS_PORTS if pe[1].tls], ids=_id)
def test_capabilities_after_tls(other_lab, host, expect):
    with Session(host.address, expect) as session:
        if expect.mode == "starttls":
            session.starttls()
        capabilities = session.capabilities()
    assert [w for w in expect.after if not has(capabilities, w)] == [], capabilities
    assert not has(capabilities, "STARTTLS") and not has(capabilities, "STLS")


_USER, _PASSWORD = "no-such-user-mailtls", "not-a-password"


@pytest.mark.parametrize(("host", "expect"), [pe for pe in CLEAR_PORTS if pe[1].login != "none"], ids=_id)
def test_login_before_tls(other_lab, host, expect):
    """'taken': the server asks for (and then rejects) the credentials; 'refused': it turns
    the login away before any credential is checked."""
    with Session(host.address, expect) as session:
        if expect.protocol == "smtp":
            session.reply("EHLO lab-check.lab.mailtls.test")
            first = session.reply("AUTH LOGIN")[-1]
            if expect.login == "taken":
                assert first.startswith("334"), first
                session.reply(base64.b64encode(_USER.encode()).decode())
                final = session.reply(base64.b64encode(_PASSWORD.encode()).decode())[-1]
            else:
                assert first[:1] == "5", first
                final = first
        elif expect.protocol == "imap":
            final = session.reply(f"a LOGIN {_USER} {_PASSWORD}")[-1]
            assert not final.startswith("a OK"), final
        else:
            first = session.reply(f"USER {_USER}")[0]
            if expect.login == "taken":
                assert first.startswith("+OK"), first
                final = session.reply(f"PASS {_PASSWORD}")[0]
            else:
                final = first
            assert final.startswith("-ERR"), final
    assert expect.login_reply in final


@pytest.mark.parametrize(("host", "expect"), [pe for pe in PORTS if pe[1].mail_from], ids=_id)
def test_mail_from_before_tls(other_lab, host, expect):
    with Session(host.address, expect) as session:
        session.reply("EHLO lab-check.lab.mailtls.test")
        answer = session.reply("MAIL FROM:<>")[-1]
        session.reply("RSET")
    assert answer[:1] == expect.mail_from, answer


@pytest.mark.parametrize(("host", "expect"), [pe for pe in CLEAR_PORTS if pe[1].vrfy_reply], ids=_id)
def test_vrfy_reply(other_lab, host, expect):
    with Session(host.address, expect) as session:
        session.reply("EHLO lab-check.lab.mailtls.test")
        answer = session.reply("VRFY postmaster")[-1]
    assert answer[:3] == expect.vrfy_reply, answer


_NOOP = {
    "smtp": ("STARTTLS\r\nNOOP\r\n", "220"),
    "imap": ("t STARTTLS\r\nn NOOP\r\n", "t OK"),
    "pop3": ("STLS\r\nCAPA\r\n", "+OK"),
}


@pytest.mark.parametrize(
    ("host", "expect"), [pe for pe in TLS_PORTS if pe[1].mode == "starttls" and pe[1].tls], ids=_id
)
def test_starttls_injection(other_lab, host, expect):
    """STARTTLS and a no-op in one packet: does the no-op get an answer inside TLS, unasked?"""
    both, ready = _NOOP[expect.protocol]
    with Session(host.address, expect) as session:
        if expect.protocol == "smtp":
            session.reply("EHLO lab-check.lab.mailtls.test")
        session.sock.sendall(both.encode())
        try:
            answer = session.line()
            assert answer.startswith(ready), answer
            session._wrap()
            session.sock.settimeout(3)
            answered = bool(session.sock.recv(4096))
        except (TimeoutError, ConnectionError, ssl.SSLError):
            answered = False  # nothing unasked inside TLS (or the server dropped the pipelined command)
    assert answered == expect.injectable


# -- connection limits ---------------------------------------------------------------------


def _greeting(sock: socket.socket, timeout: float) -> bytes | str:
    sock.settimeout(timeout)
    try:
        return sock.recv(512) or "closed"
    except TimeoutError:
        return "silent"
    except ConnectionResetError:
        return "reset"


@pytest.mark.parametrize(("host", "limit"), LIMITS, ids=_id)
def test_connection_limit(other_lab, host, limit):
    """``limit.connections`` connections at once are all greeted; one more gets what the
    declaration says: a 421 greeting, a close, or silence until a slot frees."""
    socks = []
    try:
        for _ in range(limit.connections):
            socks.append(socket.create_connection((host.address, limit.port), timeout=10))
        greetings = [_greeting(s, 15) for s in socks]
        assert all(isinstance(g, bytes) and not g.startswith(b"421") for g in greetings), greetings
        if limit.over == "none":
            return
        extra = socket.create_connection((host.address, limit.port), timeout=10)
        socks.append(extra)
        answer = _greeting(extra, 3)
        if limit.over == "421":
            assert isinstance(answer, bytes) and answer.startswith(b"421") and limit.reply.encode() in answer
        elif limit.over == "close":
            assert answer in ("closed", "reset")
        elif limit.over == "evict":
            assert isinstance(answer, bytes) and answer[:4] in (b"* OK", b"+OK ")
            evicted = [_greeting(s, 5) for s in socks[:-1]]
            assert any(isinstance(e, bytes) and limit.reply.encode() in e for e in evicted), evicted
        else:
            assert answer == "silent"
            socks.pop(0).close()  # a slot frees
            after = _greeting(extra, 10)
            if limit.over == "wait":
                assert isinstance(after, bytes), after
            else:
                assert after in ("closed", "reset")
    finally:
        for s in socks:
            s.close()
        time.sleep(0.5)  # let the server see them go before the next test counts


# -- the two behaviours issue 12 names --------------------------------------------------------


@pytest.mark.parametrize("expect", HOSTS["opensmtpd-tls"].ports, ids=_id)
@pytest.mark.parametrize("version", ["tls1_2", "tls1_3"])
def test_opensmtpd_aborts_every_handshake_after_its_certificate(other_lab, expect, version):
    # Debian 12's OpenSMTPD with OpenSSL 3: the server sends ServerHello and Certificate,
    # then a fatal alert instead of finishing; it never sends Finished.
    out = openssl(expect, HOSTS["opensmtpd-tls"].address, f"-{version}", "-msg")
    received = [line for line in out.splitlines() if line.startswith("<<<")]
    assert any("ServerHello" in line for line in received), out[-2000:]
    assert any(line.endswith(", Certificate") for line in received), out[-2000:]
    assert any("Alert" in line and "fatal" in line for line in received), out[-2000:]
    assert not any("Finished" in line for line in received)


def test_opensmtpd_aborts_rsa_key_exchange_too(other_lab):
    # Without a signature to make (RSA key exchange), it fails on decrypting the client's.
    expect = HOSTS["opensmtpd-tls"].port(25)
    out = openssl(expect, HOSTS["opensmtpd-tls"].address, "-tls1_2", "-cipher", "AES128-SHA", "-msg")
    received = [line for line in out.splitlines() if line.startswith("<<<")]
    assert any("ServerHelloDone" in line for line in received)
    assert any("fatal" in line for line in received) and not any("Finished" in line for line in received)


def test_mailutils_imap4d_writes_capability_in_two_writes(other_lab):
    """imap4d answers CAPABILITY with one write() for the untagged line and another for the
    tagged OK, so a client that reads once may see only half the reply."""
    pid = other_lab.pids["mailutils-imap4d"]
    trace = Path("/tmp/mailtls-imap4d.strace")
    tracer = subprocess.Popen(
        [
            "strace",
            "-f",
            "-qq",
            "-s",
            "300",
            "-e",
            "trace=write,writev,sendto,sendmsg",
            "-o",
            str(trace),
            "-p",
            str(pid),
        ]
    )
    try:
        time.sleep(1)  # strace attaches
        host = HOSTS["mailutils-tls"]
        with Session(host.address, host.port(143)) as session:
            session.capabilities()
        time.sleep(0.5)
    finally:
        tracer.terminate()
        tracer.wait(10)
    writes = [line for line in trace.read_text().splitlines() if "CAPABILITY" in line]
    trace.unlink()
    untagged = [w for w in writes if '"* CAPABILITY' in w]
    tagged = [w for w in writes if '"a OK CAPABILITY' in w]
    assert len(untagged) == 1 and len(tagged) == 1, writes
    assert "OK CAPABILITY" not in untagged[0]


# -- the counting forwarder ------------------------------------------------------------------


def test_forwarder_counts_the_peak_per_host_across_ports(other_lab):
    host = HOSTS["exim-tls"]
    with Forwarder("127.0.2.200", host.address, [25, 587]) as forwarder:
        socks = [socket.create_connection(("127.0.2.200", port), timeout=10) for port in (25, 25, 25, 587, 587)]
        assert all(s.recv(100).startswith(b"220 exim-tls") for s in socks)
        assert forwarder.open == 5
        for s in socks:
            s.close()
        deadline = time.monotonic() + 5
        while forwarder.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (forwarder.peak, forwarder.total, forwarder.open) == (5, 5, 0)
        assert dict(forwarder.peak_by_port) == {25: 3, 587: 2}
        forwarder.reset()
        for _ in range(3):  # one after the other: peak 1
            with socket.create_connection(("127.0.2.200", 25), timeout=10) as s:
                s.recv(100)
                s.sendall(b"QUIT\r\n")
                s.recv(100)
            while forwarder.open:
                time.sleep(0.02)
        assert (forwarder.peak, forwarder.total) == (1, 3)


def test_forwarder_passes_a_limited_server_s_answer_on(other_lab):
    # Postfix's anvil (3 at once) answers the fourth connection through the forwarder too.
    host = HOSTS["postfix-anvil"]
    with Forwarder("127.0.2.201", host.address, [25]) as forwarder:
        socks = [socket.create_connection(("127.0.2.201", 25), timeout=10) for _ in range(4)]
        try:
            answers = [_greeting(s, 10) for s in socks]
        finally:
            for s in socks:
                s.close()
        assert forwarder.peak == 4
    # (Which of the four is turned away depends on the order they reach Postfix.)
    codes = sorted(a[:3] if isinstance(a, bytes) else a.encode() for a in answers)
    assert codes == [b"220", b"220", b"220", b"421"], answers
