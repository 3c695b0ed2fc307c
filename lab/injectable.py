"""A deliberately injectable STARTTLS server (CVE-2011-0411 and its IMAP/POP3 cousins).

It answers SMTP on 25, IMAP on 143 and POP3 on 110 at 127.53.9.1 and, like the servers
that had the flaw, reads commands through one buffer that survives the switch to TLS:
a command sent in plaintext right behind STARTTLS (in the same packet) is executed
*after* the handshake, and its answer goes out inside TLS. Real Postfix and Dovecot
throw such leftovers away. It speaks just enough of each protocol for a scanner
(greeting, capabilities, STARTTLS/STLS, NOOP, CAPA, QUIT/LOGOUT); it accepts no mail
and no logins, and it never connects anywhere.

    python -m lab.injectable CERT KEY        # serve until killed
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import sys
import threading

ADDRESS = "127.53.9.1"
PORTS = {"smtp": 25, "imap": 143, "pop3": 110}
NAME = "injectable.mailtls.test"


class _Session:
    def __init__(self, sock: socket.socket, context: ssl.SSLContext):
        self.sock = sock
        self.context = context
        self.buffer = b""
        self.tls = False

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def lines(self):
        """Command lines, from a buffer kept across STARTTLS: the flaw under test."""
        while True:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            yield line.rstrip(b"\r").decode("ascii", "replace")

    def start_tls(self) -> None:
        # The leftover plaintext in self.buffer is *not* discarded here.
        self.sock = self.context.wrap_socket(self.sock, server_side=True)
        self.tls = True


def _smtp(s: _Session) -> None:
    s.send(f"220 {NAME} ESMTP injectable lab server\r\n")
    for line in s.lines():
        verb = line.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            extra = "" if s.tls else "250-STARTTLS\r\n"
            s.send(f"250-{NAME}\r\n250-PIPELINING\r\n{extra}250 8BITMIME\r\n")
        elif verb == "STARTTLS" and not s.tls:
            s.send("220 2.0.0 Ready to start TLS\r\n")
            s.start_tls()
        elif verb in ("NOOP", "RSET"):
            s.send("250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            s.send("221 2.0.0 Bye\r\n")
            return
        else:
            s.send("502 5.5.2 Error: command not implemented\r\n")


def _imap(s: _Session) -> None:
    s.send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] injectable lab server ready\r\n")
    for line in s.lines():
        tag, _, rest = line.partition(" ")
        command = rest.split(" ", 1)[0].upper()
        if command == "CAPABILITY":
            caps = "IMAP4rev1" + ("" if s.tls else " STARTTLS LOGINDISABLED")
            s.send(f"* CAPABILITY {caps}\r\n{tag} OK Capability completed\r\n")
        elif command == "STARTTLS" and not s.tls:
            s.send(f"{tag} OK Begin TLS negotiation now\r\n")
            s.start_tls()
        elif command == "NOOP":
            s.send(f"{tag} OK NOOP completed\r\n")
        elif command == "LOGOUT":
            s.send(f"* BYE Logging out\r\n{tag} OK Logout completed\r\n")
            return
        else:
            s.send(f"{tag} BAD Command not implemented\r\n")


def _pop3(s: _Session) -> None:
    s.send("+OK injectable lab server ready\r\n")
    for line in s.lines():
        verb = line.split(" ", 1)[0].upper()
        if verb == "CAPA":
            s.send("+OK Capability list follows\r\nTOP\r\nUIDL\r\n" + ("" if s.tls else "STLS\r\n") + ".\r\n")
        elif verb == "STLS" and not s.tls:
            s.send("+OK Begin TLS negotiation now\r\n")
            s.start_tls()
        elif verb == "NOOP":
            s.send("-ERR Not logged in\r\n")
        elif verb == "QUIT":
            s.send("+OK Logging out\r\n")
            return
        else:
            s.send("-ERR Unknown command\r\n")


_PROTOCOLS = {"smtp": _smtp, "imap": _imap, "pop3": _pop3}


def serve(cert: str, key: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    servers = []
    for protocol, port in PORTS.items():
        speak = _PROTOCOLS[protocol]

        class Handler(socketserver.BaseRequestHandler):
            def handle(self, speak=speak) -> None:
                self.request.settimeout(30)
                try:
                    speak(_Session(self.request, context))
                except (OSError, ssl.SSLError):
                    pass

        server = socketserver.ThreadingTCPServer((ADDRESS, port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        servers.append(server)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
