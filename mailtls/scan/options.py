"""How a scan runs, in one value: ``ScanOptions``, its defaults and its checks declared once.

``assess``, ``assess_many`` and ``iter_assess`` build one from their keyword arguments
(``mailtls.assess(host, ports=[25], timeout=60)``, or ``options=ScanOptions(...)``) and
hand it down unchanged: to the batches (``many.py``), each nmap run (``plan.py``,
``runner.py``) and the judging of each host. A value that cannot work raises
``PortsError`` or ``OptionError`` here, before nmap starts. An option is one field below.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import OptionError
from ..protocols import DEFAULT_PORTS
from .targets import parse_ports, parse_timeout

#: nmap runs at once, at most.
MAX_CONCURRENCY = 64
#: Seconds nmap may spend on one host when the caller does not say.
DEFAULT_TIMEOUT = 600.0


def default_concurrency() -> int:
    """One nmap run per CPU, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _ports(value: Iterable[int] | None) -> tuple[int, ...]:
    return parse_ports(value)


def _timeout(value: object) -> float:
    return parse_timeout(value, DEFAULT_TIMEOUT)


def check_concurrency(value: object) -> int:
    if value is None:
        return default_concurrency()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise OptionError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, got {value!r}")
    return value


@attrs.frozen
class ScanOptions:
    """How hosts are scanned and judged. ``None`` for any field means its default."""

    #: TCP ports to scan (default: the mail ports 25, 110, 143, 465, 587, 993, 995).
    ports: tuple[int, ...] = attrs.field(default=DEFAULT_PORTS, converter=_ports)
    #: Seconds nmap may spend on each host, both passes together (default 600); a host that
    #: runs over is reported with whatever was found before.
    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, converter=_timeout)
    #: Also run nmap's ``smtp-open-relay`` on SMTP ports (rule MT401). It sends test mail
    #: transactions to the server, so it is off unless asked for.
    open_relay: bool = attrs.field(default=False, converter=bool)
    #: nmap runs at once (default: one per CPU, at most 8; at most 64).
    concurrency: int = attrs.field(factory=default_concurrency, converter=check_concurrency)
    #: Raise a failing rule's exception instead of recording it as a problem (for debugging).
    strict: bool = attrs.field(default=False, converter=bool)

    @classmethod
    def of(cls, options: ScanOptions | None, fields: Mapping[str, Any]) -> ScanOptions:
        """``options`` (default: every default) with ``fields`` changed, checked."""
        return attrs.evolve(options if options is not None else cls(), **fields)
