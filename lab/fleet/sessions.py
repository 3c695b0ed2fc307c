"""One fleet host's port, as nmap's scripts speak to it: SMTP, POP3 and IMAP sessions (with a
real STARTTLS upgrade on STARTTLS hosts), and the silent host that never answers."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from .hosts import IMAP, POP3, SLOW_GREETING, SMTP, FleetHost, Kind

#: Longest command line accepted, CRLF included (RFC 5321 allows 512 for SMTP commands;
#: IMAP has no limit, so be generous but bounded).
MAX_LINE = 2048
#: A session that sends nothing for this long is closed; a silent host holds a
#: connection longer, so that nmap's own timeouts are what ends it.
IDLE_TIMEOUT = 30.0
SILENT_HOLD = 120.0
HANDSHAKE_TIMEOUT = 10.0
#: Error replies after which a session is closed (a client that is not speaking the protocol).
MAX_ERRORS = 20


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 and 1.3 only; for 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305 (every
    TLS 1.3 suite is ECDHE/AEAD already)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305")
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(certificate, key)
    return context



class Session(asyncio.Protocol):
    """One client connection: a greeting, then one reply per command line.

    A plain ``asyncio.Protocol`` rather than streams: no task per connection, which
    matters when ssl-enum-ciphers opens dozens of connections per port. Commands are
    handled only after the greeting went out; bytes that arrive with a STARTTLS command
    are dropped (no plaintext command may survive the upgrade: CVE-2011-0411).
    """

    def __init__(self, host: FleetHost, tls: ssl.SSLContext | None, tasks: set[asyncio.Task[None]]):
        self.host = host
        self.name = f"host{host.index}.fleet.mailtls.test"
        self.tls_context = tls  # None: this server offers no STARTTLS
        self.tasks = tasks
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.greeted = False
        self.upgrading = False
        self.secure = False
        self.errors = 0
        self.timer: asyncio.TimerHandle | None = None

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._arm(IDLE_TIMEOUT)
        delay = SLOW_GREETING if self.host.kind is Kind.SLOW else 0.0
        if delay:
            asyncio.get_running_loop().call_later(delay, self._greet)
        else:
            self._greet()

    def data_received(self, data: bytes) -> None:
        if not self.greeted:
            # A client that talks before the greeting is not waiting for one: hang up, as
            # Postfix's postscreen does (its "pregreet" test). On a slow host this is what
            # ends nmap's direct TLS attempts on these plaintext ports at once, instead of
            # after the delay.
            self.send(self.pregreet())
            self.close()
            return
        self._arm(IDLE_TIMEOUT)
        self.buffer += data
        self._process()

    def eof_received(self) -> bool | None:
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.transport = None

    # what the protocols use

    def greeting(self) -> str:
        raise NotImplementedError

    def command(self, line: str) -> None:
        raise NotImplementedError

    def too_long(self) -> str:
        raise NotImplementedError

    def pregreet(self) -> str:
        raise NotImplementedError

    def idle_message(self) -> str:
        raise NotImplementedError

    def send(self, *lines: str) -> None:
        """One write per reply: nmap reads a reply with a single receive_lines(1), so a
        multi-line reply split over two segments would be read as two replies."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def error(self, *lines: str) -> None:
        self.send(*lines)
        self.errors += 1
        if self.errors >= MAX_ERRORS:
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def start_tls(self) -> None:
        """Upgrade after the "go ahead" reply has been sent (call right after ``send``)."""
        assert self.tls_context is not None and self.transport is not None
        self.upgrading = True
        self.buffer.clear()
        # Read nothing more until loop.start_tls has put the TLS layer in place (it
        # resumes reading itself): the client's ClientHello must go to TLS, not to us.
        self.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._upgrade(self.transport, self.tls_context))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # internals

    def _greet(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.send(self.greeting())
        self.greeted = True
        self._process()

    def _process(self) -> None:
        while self.greeted and not self.upgrading and self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\n")
            if end < 0 or end >= MAX_LINE:
                if end >= MAX_LINE or len(self.buffer) >= MAX_LINE:
                    self.send(self.too_long())
                    self.close()
                return
            line = bytes(self.buffer[:end]).rstrip(b"\r").decode("utf-8", "replace")
            del self.buffer[: end + 1]
            self.command(line)

    async def _upgrade(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            secure = await loop.start_tls(raw, self, context, server_side=True, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except (OSError, EOFError, asyncio.TimeoutError):  # ssl.SSLError and resets are OSErrors
            # ssl-enum-ciphers hangs up after the ServerHello on purpose: not worth a word.
            raw.abort()
            self.connection_lost(None)
            return
        if secure is None:  # the connection went away during the handshake
            raw.abort()
            self.connection_lost(None)
            return
        self.transport = secure
        self.secure = True
        self.upgrading = False
        self._arm(IDLE_TIMEOUT)
        self._process()

    def _arm(self, seconds: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self.timer = None
        if self.transport is not None:
            self.send(self.idle_message())
            self.transport.close()


class Smtp(Session):
    """RFC 5321 just enough for nmap: EHLO, HELO, HELP, STARTTLS (RFC 3207), RSET, NOOP, QUIT."""

    def greeting(self) -> str:
        return f"220 {self.name} ESMTP mailtls fleet"

    def too_long(self) -> str:
        return "500 5.5.2 Error: line too long"

    def pregreet(self) -> str:
        return "521 5.5.1 Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "421 4.4.2 Error: timeout exceeded"

    def _keywords(self) -> list[str]:
        keywords = ["PIPELINING", "SIZE 10240000"]
        if self.tls_context is not None and not self.secure:
            keywords.append("STARTTLS")
        if self.secure:
            keywords.append("AUTH PLAIN LOGIN")  # logins only inside TLS
        return [*keywords, "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]

    def _commands(self) -> str:
        offered = [
            "HELO",
            "EHLO",
            "STARTTLS" if self.tls_context and not self.secure else "",
            "RSET",
            "NOOP",
            "HELP",
            "QUIT",
        ]
        return " ".join(c for c in offered if c)

    def command(self, line: str) -> None:
        verb, _, argument = line.strip().partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            if not argument.strip():
                self.error("501 5.5.4 Syntax: EHLO hostname")
                return
            lines = [self.name, *self._keywords()]
            self.send(*(f"250-{text}" for text in lines[:-1]), f"250 {lines[-1]}")
        elif verb == "HELO":
            if not argument.strip():
                self.error("501 5.5.4 Syntax: HELO hostname")
            else:
                self.send(f"250 {self.name}")
        elif verb == "HELP":
            self.send(f"214 2.0.0 Commands: {self._commands()}")
        elif verb in ("RSET", "NOOP"):
            self.send("250 2.0.0 Ok")
        elif verb == "QUIT":
            self.send("221 2.0.0 Bye")
            self.close()
        elif verb == "STARTTLS" and self.tls_context is not None:
            if self.secure:
                self.error("503 5.5.1 Error: TLS already active")
            elif argument:
                self.error("501 5.5.4 Syntax: STARTTLS")
            else:
                self.send("220 2.0.0 Ready to start TLS")
                self.start_tls()
        elif verb == "AUTH" and self.secure:
            self.error("535 5.7.8 Error: authentication failed")
        else:
            self.error("502 5.5.2 Error: command not recognized")


class Pop3(Session):
    """RFC 1939 / 2449 / 2595 just enough for nmap: CAPA, STLS, USER, PASS, NOOP, QUIT."""

    def greeting(self) -> str:
        return "+OK mailtls fleet POP3 ready"  # no <...>: nmap would read it as APOP

    def too_long(self) -> str:
        return "-ERR line too long"

    def pregreet(self) -> str:
        return "-ERR Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "-ERR Disconnected for inactivity"

    def _plaintext_login(self) -> bool:
        return self.secure or self.tls_context is None

    def command(self, line: str) -> None:
        verb = line.strip().partition(" ")[0].upper()
        if verb == "CAPA":
            # No "." anywhere but the terminator: pop3.lua reads up to the first dot it sees.
            caps = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
            if self.tls_context is not None and not self.secure:
                caps.append("STLS")
            if self._plaintext_login():
                caps.append("USER")
            if self.secure:
                caps.append("SASL PLAIN")
            self.send("+OK Capability list follows", *caps, ".")
        elif verb == "STLS" and self.tls_context is not None:
            if self.secure:
                self.error("-ERR TLS already active")
            else:
                self.send("+OK Begin TLS negotiation now")
                self.start_tls()
        elif verb == "USER":
            if self._plaintext_login():
                self.send("+OK")
            else:
                self.error("-ERR [AUTH] Plaintext authentication disallowed on non-secure connections")
        elif verb in ("PASS", "AUTH"):
            self.error("-ERR [AUTH] Authentication failed")
        elif verb == "NOOP":
            self.send("+OK")
        elif verb == "QUIT":
            self.send("+OK Logging out")
            self.close()
        else:
            self.error("-ERR Unknown command")


class Imap(Session):
    """RFC 3501 just enough for nmap: CAPABILITY, STARTTLS, NOOP, LOGOUT (LOGIN always fails)."""

    def greeting(self) -> str:
        return "* OK mailtls fleet IMAP4rev1 ready"

    def too_long(self) -> str:
        return "* BYE line too long"

    def pregreet(self) -> str:
        return "* BYE Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "* BYE Disconnected for inactivity"

    def _capabilities(self) -> str:
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "IDLE"]
        if self.tls_context is not None and not self.secure:
            caps += ["STARTTLS", "LOGINDISABLED"]
        else:
            caps.append("AUTH=PLAIN")
        return " ".join(caps)

    def command(self, line: str) -> None:
        parts = line.strip().split(" ", 2)
        if len(parts) < 2 or not parts[0].isprintable():
            self.error("* BAD Error in IMAP command received by server")
            return
        tag, verb = parts[0], parts[1].upper()
        if verb == "CAPABILITY":
            self.send(f"* CAPABILITY {self._capabilities()}", f"{tag} OK Capability completed")
        elif verb == "NOOP":
            self.send(f"{tag} OK NOOP completed")
        elif verb == "LOGOUT":
            self.send("* BYE Logging out", f"{tag} OK Logout completed")
            self.close()
        elif verb == "STARTTLS" and self.tls_context is not None:
            if self.secure:
                self.error(f"{tag} BAD TLS is already active")
            else:
                self.send(f"{tag} OK Begin TLS negotiation now")
                self.start_tls()
        elif verb in ("LOGIN", "AUTHENTICATE"):
            if self.tls_context is not None and not self.secure:
                self.error(f"{tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections")
            else:
                self.error(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
        else:
            self.error(f"{tag} BAD Error in IMAP command: Unknown command")


class Silent(asyncio.Protocol):
    """Accepts, reads and drops what comes, never answers; hangs up after SILENT_HOLD seconds."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.timer = asyncio.get_running_loop().call_later(SILENT_HOLD, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()


SESSIONS: dict[int, type[Session]] = {SMTP: Smtp, POP3: Pop3, IMAP: Imap}


