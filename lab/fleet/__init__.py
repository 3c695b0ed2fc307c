"""A simulated fleet of mail hosts on loopback: one light process answering for thousands of hosts.

    >>> from lab import fleet
    >>> with fleet.start(64) as running:                 # 64 hosts, every listening port answering
    ...     for host in running.hosts:
    ...         print(host.address, host.kind.value, host.ports, sorted(host.expected))

The real lab (``lab/__init__.py``) runs Dovecot and Postfix on a dozen addresses; this
one answers SMTP (25), POP3 (110) and IMAP (143) itself, with asyncio, on as many
addresses as a scan of a large network needs. Host ``i`` is ``127.100.{i // 250}.{i % 250 + 1}``
(never .0 or .255, and never the real lab's 127.0.0.x). Each host has one :class:`Kind`,
chosen from its index (see :func:`kind_of`), and :attr:`FleetHost.expected` says which
findings ``mailtls`` must report for it, derived from what the rules say.

STARTTLS is a real TLS upgrade (TLS 1.2 and 1.3 only, ECDHE with AES-GCM or
ChaCha20-Poly1305) with one self-signed RSA-2048/SHA-256 certificate made at start.
Nothing is delivered: the servers accept no mail, and every command they do not
implement gets an error reply.

    python -m lab.fleet serve --hosts 1024       # run in the foreground until Ctrl-C
    python -m lab.fleet expected --hosts 64      # the hosts and their expected findings
    python -m lab.fleet addresses --hosts 1024   # one address a line, for nmap -iL

The package: ``hosts.py`` (which host is what, and what mailtls must find there: pure
data), ``sessions.py`` (SMTP, POP3 and IMAP as nmap's scripts speak them), ``server.py``
(the one asyncio process answering for every host), ``control.py`` (starting and stopping
it from another process, and scanning it), ``__main__.py`` (the command line).
"""

from .control import DEFAULT_WORKDIR, Fleet, nmap_command, start
from .hosts import (
    DEFAULT_HOSTS,
    MAX_HOSTS,
    NETWORK,
    SLOW_GREETING,
    FleetError,
    FleetHost,
    Kind,
    address_of,
    hosts,
    kind_of,
)

__all__ = [
    "DEFAULT_HOSTS",
    "DEFAULT_WORKDIR",
    "MAX_HOSTS",
    "NETWORK",
    "SLOW_GREETING",
    "Fleet",
    "FleetError",
    "FleetHost",
    "Kind",
    "address_of",
    "hosts",
    "kind_of",
    "nmap_command",
    "start",
]
