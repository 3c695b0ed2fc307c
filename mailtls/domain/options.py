"""How ``assess_domain`` runs, in one value: ``DomainOptions``.

Its own fields, then ``scan``: the ``ScanOptions`` of the scan of the MX hosts, whose
ports are port 25 alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import OptionError
from ..protocols import MX_PORT
from ..scan.options import ScanOptions


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return os.fspath(value) if value is not None else None


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise OptionError(f"policy_timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _mx_scan(value: ScanOptions) -> ScanOptions:
    return attrs.evolve(value, ports=(MX_PORT,))


@attrs.frozen
class DomainOptions:
    """How a mail domain is assessed. ``scan`` holds the options of the MX hosts' scan."""

    #: The trust store (PEM) for the MTA-STS policy server and the MX certificates' issuer
    #: check (default: certifi's bundle).
    ca_file: str | None = attrs.field(default=None, converter=_path)
    #: Seconds the HTTPS fetch of the MTA-STS policy may take.
    policy_timeout: float = attrs.field(default=10.0, converter=_seconds)
    #: The scan of each MX host (port 25 only, whatever is asked).
    scan: ScanOptions = attrs.field(factory=ScanOptions, converter=_mx_scan)

    @classmethod
    def of(cls, options: DomainOptions | None, fields: Mapping[str, Any]) -> DomainOptions:
        """``options`` (default: every default) with ``fields`` changed: this class's own, and
        ``ScanOptions``'s for the scan."""
        if "ports" in fields:
            raise OptionError("assess_domain scans port 25 of each MX host: it takes no ports")
        base = options if options is not None else cls()
        own = {name: fields[name] for name in attrs.fields_dict(cls) if name in fields and name != "scan"}
        scan = {name: value for name, value in fields.items() if name not in own}
        return attrs.evolve(base, **own, scan=ScanOptions.of(base.scan, scan))
