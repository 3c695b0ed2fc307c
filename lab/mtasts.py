"""The domain lab's MTA-STS policy server: HTTPS on 127.53.0.10:443 for every
``mta-sts.<domain>`` of the lab, with a certificate from the lab's own CA.

    python -m lab.mtasts WORKDIR      # serves WORKDIR/mtasts/{policies.json,server.crt,server.key}

``policies.json`` maps a policy host name to ``{"status": 200, "body": "...",
"headers": {...}}``; any other Host header gets a 404. Started and stopped by
``lab.dnslab``; it only answers, it never connects anywhere.
"""

from __future__ import annotations

import http.server
import json
import ssl
import sys
from pathlib import Path

ADDRESS, PORT = "127.53.0.10", 443
WELL_KNOWN = "/.well-known/mta-sts.txt"


def policy_text(mode: str, mx: tuple[str, ...], max_age: int) -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


def _handler(policies: dict[str, dict]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "mailtls-lab-mtasts"

        def do_GET(self) -> None:  # http.server's naming
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            answer = policies.get(host) if self.path == WELL_KNOWN else None
            if answer is None:
                answer = {"status": 404, "body": "not found\n", "headers": {}}
            body = answer["body"].encode()
            self.send_response(answer["status"])
            headers = {"Content-Type": "text/plain", **answer.get("headers", {})}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def serve(workdir: Path) -> None:
    here = workdir / "mtasts"
    policies = json.loads((here / "policies.json").read_text())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(here / "server.crt", here / "server.key")
    server = http.server.ThreadingHTTPServer((ADDRESS, PORT), _handler(policies))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
