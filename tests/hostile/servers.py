"""Small TCP servers that misbehave the way real mail servers (or things squatting on
mail ports) do, for ``mailtls.assess`` to be pointed at.

Each server is a listening socket on one 127.60.x.y address (this project's share of
loopback) and a thread per connection running one *behaviour*: a function that gets
the connected socket and speaks (or refuses to speak) its protocol. ``serve(...)`` is a
context manager that starts one and stops it, closing every connection it accepted.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

#: The loopback range these tests may bind (other suites use other parts of 127/8).
NETWORK_PREFIX = "127.60."

Behaviour = Callable[["Peer"], None]


class Peer:
    """One accepted connection, with line-oriented helpers and a stop flag."""

    def __init__(self, conn: socket.socket, stopping: threading.Event) -> None:
        self.conn = conn
        self.stopping = stopping
        self._buffer = b""
        conn.settimeout(0.5)

    def send(self, data: bytes | str) -> None:
        self.conn.sendall(data.encode("latin-1") if isinstance(data, str) else data)

    def line(self) -> bytes | None:
        """The next CRLF/LF-terminated line from the client, or None once it has gone."""
        while b"\n" not in self._buffer:
            if self.stopping.is_set():
                return None
            try:
                chunk = self.conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def lines(self) -> Iterator[bytes]:
        while (line := self.line()) is not None:
            yield line

    def wait_for_close(self) -> None:
        """Read and drop whatever the client sends until it goes away (or the server stops)."""
        while self.line() is not None:
            pass


# --- behaviours that do not depend on the protocol --------------------------------


def silent(peer: Peer) -> None:
    """Accepts and never says a word."""
    peer.wait_for_close()


def reset(peer: Peer) -> None:
    """Accepts, then resets the connection at once (SO_LINGER 0: close sends RST)."""
    peer.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.conn.close()


def huge_banner(peer: Peer) -> None:
    """A 2 MB greeting line, then silence: no line-reading client should hold it all."""
    try:
        peer.send(b"220 " + b"A" * (2 * 1024 * 1024) + b"\r\n")
    except OSError:
        return
    peer.wait_for_close()


# --- SMTP -------------------------------------------------------------------------


def smtp_busy(peer: Peer) -> None:
    """Greets with 421 and closes, as a rate-limiting or overloaded server does (RFC 5321 3.8)."""
    peer.send("421 4.3.2 try later\r\n")


def smtp_no_service(peer: Peer) -> None:
    """Greets with 554 and then, as RFC 5321 3.1 asks, answers 503 to everything but QUIT."""
    peer.send("554 5.7.1 no SMTP service here\r\n")
    for line in peer.lines():
        if line.upper().startswith(b"QUIT"):
            peer.send("221 2.0.0 bye\r\n")
            return
        peer.send("503 5.5.1 bad sequence of commands\r\n")


def smtp_server(ehlo_lines: list[str], *, on_starttls: Callable[[Peer], bool] | None = None) -> Behaviour:
    """A plaintext SMTP server whose EHLO reply is exactly ``ehlo_lines`` (without codes).

    ``on_starttls`` answers STARTTLS and returns False when the connection is over."""

    def behave(peer: Peer) -> None:
        peer.send("220 mx.example ESMTP hostile test server\r\n")
        for line in peer.lines():
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                reply = "".join(
                    f"250{'-' if i < len(ehlo_lines) - 1 else ' '}{text}\r\n" for i, text in enumerate(ehlo_lines)
                )
                peer.send(reply)
            elif verb == b"STARTTLS" and on_starttls is not None:
                if not on_starttls(peer):
                    return
            elif verb == b"HELP":
                peer.send("214 2.0.0 see RFC 5321\r\n")
            elif verb == b"QUIT":
                peer.send("221 2.0.0 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 command not recognised\r\n")

    return behave


def refuse_starttls(peer: Peer) -> bool:
    peer.send("454 4.7.0 TLS not available due to local problem\r\n")
    return True


def garbage_after_starttls(peer: Peer) -> bool:
    # The client now sends a ClientHello; answer with bytes that are not a TLS record.
    peer.send("220 2.0.0 Ready to start TLS\r\n")
    try:
        peer.conn.recv(4096)
        peer.send(b"this is not a TLS handshake\r\n" * 20)
    except OSError:
        pass
    return False


#: Advertises STARTTLS, then refuses it with 454.
smtp_starttls_refused = smtp_server(["mx.example", "PIPELINING", "STARTTLS", "8BITMIME"], on_starttls=refuse_starttls)
#: Advertises STARTTLS, says "go ahead", then sends garbage instead of a ServerHello.
smtp_starttls_garbage = smtp_server(
    ["mx.example", "PIPELINING", "STARTTLS", "8BITMIME"], on_starttls=garbage_after_starttls
)
#: The word STARTTLS only in the free text of EHLO's first line: no STARTTLS keyword.
smtp_starttls_in_greeting = smtp_server(["mx.example Hello, STARTTLS", "PIPELINING", "8BITMIME"])
#: A keyword that starts like STARTTLS but is not it.
smtp_starttlsx = smtp_server(["mx.example", "PIPELINING", "STARTTLSX", "8BITMIME"], on_starttls=refuse_starttls)


# --- POP3 and IMAP ----------------------------------------------------------------


def pop3_err(peer: Peer) -> None:
    """Greets with +OK, then answers -ERR to everything (CAPA, STLS, USER...)."""
    peer.send("+OK POP3 ready\r\n")
    for line in peer.lines():
        if line.upper().startswith(b"QUIT"):
            peer.send("+OK bye\r\n")
            return
        peer.send("-ERR no\r\n")


def pop3_stls_fake(peer: Peer) -> None:
    """CAPA lists ``STLS fake`` (STLS takes no argument, RFC 2595) and USER; STLS itself is refused."""
    peer.send("+OK POP3 ready\r\n")
    for line in peer.lines():
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"CAPA":
            peer.send("+OK Capability list follows\r\nUSER\r\nSTLS fake\r\nTOP\r\n.\r\n")
        elif verb == b"QUIT":
            peer.send("+OK bye\r\n")
            return
        else:
            peer.send("-ERR no\r\n")


def imap_refusing(answer: str) -> Behaviour:
    """Greets with ``* OK``, then answers every tagged command with ``answer`` (NO or BAD)."""

    def behave(peer: Peer) -> None:
        peer.send("* OK IMAP4rev1 ready\r\n")
        for line in peer.lines():
            tag = line.split(b" ", 1)[0].decode("latin-1") or "*"
            if b" LOGOUT" in line.upper():
                peer.send(f"* BYE\r\n{tag} OK LOGOUT done\r\n")
                return
            peer.send(f"{tag} {answer} refused\r\n")

    return behave


imap_no = imap_refusing("NO")
imap_bad = imap_refusing("BAD")


# --- the server -------------------------------------------------------------------


class Server:
    """A listening socket on ``(address, port)`` serving ``behaviour`` to every connection."""

    def __init__(self, address: str, port: int, behaviour: Behaviour) -> None:
        if not address.startswith(NETWORK_PREFIX):
            raise ValueError(f"hostile test servers bind {NETWORK_PREFIX}0.0/16 only, not {address}")
        self.address = address
        self.port = port
        self.behaviour = behaviour
        self.connections = 0
        self._stopping = threading.Event()
        self._peers: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((address, port))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name=f"hostile-{address}:{port}", daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._peers.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behaviour(Peer(conn, self._stopping))
        except OSError:
            pass  # the client went away mid-sentence: that is its right
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        self._thread.join(timeout=2)
        with self._lock:
            for conn in self._peers:
                with contextlib.suppress(OSError):
                    conn.close()


@contextlib.contextmanager
def serve(address: str, port: int, behaviour: Behaviour) -> Iterator[Server]:
    """Run one hostile server for the duration of a ``with`` block."""
    server = Server(address, port, behaviour).start()
    try:
        yield server
    finally:
        server.stop()


def server_factory():
    """For a pytest fixture: ``start(address, port, behaviour)`` starts a server that is
    stopped when the test (or the fixture's scope) ends."""
    stack = contextlib.ExitStack()

    def start(address: str, port: int, behaviour: Behaviour) -> Server:
        return stack.enter_context(serve(address, port, behaviour))

    return start, stack
