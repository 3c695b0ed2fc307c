"""Step 2 of the data flow: run nmap. The only module that imports python-nmap.

The nmap command is built here from a validated ``Target`` and port list, never
from caller strings, and python-nmap's errors are translated into mailtls's.
python-nmap keeps only each script's output string, so what leaves this module
is nmap's raw XML, for ``nmapxml/`` to read in full.
"""

from __future__ import annotations

import shutil

import attrs
import nmap  # python-nmap

from .._errors import NmapNotFoundError, ScannerError
from ..protocols import OPEN_RELAY_SCRIPT, SCRIPTS
from .targets import Target

INSTALL_HINT = "install it with `apt-get install nmap` (Debian/Ubuntu) or from https://nmap.org/download"


@attrs.frozen
class NmapRun:
    xml: bytes
    command: tuple[str, ...]
    stderr: str = ""


def nmap_arguments(
    target: Target, *, timeout: float | None = None, service_detection: bool = True, open_relay: bool = False
) -> list[str]:
    """nmap's options for one run (without the target and ``-p``, which python-nmap adds)."""
    arguments = [
        "-Pn",  # the caller named the host: scan it even if it ignores ping
        "-n",  # no reverse DNS: no packets to resolvers the caller did not ask for
    ]
    if service_detection:
        # Identifies the protocol on non-standard ports, which nmap's TLS and capability
        # scripts then use too. It costs seconds per port (see _assess.py).
        arguments.append("-sV")
    scripts = SCRIPTS + ((OPEN_RELAY_SCRIPT,) if open_relay else ())
    arguments += ["--script", ",".join(scripts)]
    if target.is_ipv6:
        arguments.append("-6")
    if timeout is not None:
        # nmap's own limit, so a slow host ends with well-formed XML that says it timed out.
        arguments += ["--host-timeout", f"{max(1, int(timeout))}s"]
    return arguments


def port_spec(ports: tuple[int, ...]) -> str:
    return "T:" + ",".join(str(p) for p in ports)


def run_nmap(
    target: Target,
    ports: tuple[int, ...],
    *,
    timeout: float | None = None,
    service_detection: bool = True,
    open_relay: bool = False,
) -> NmapRun:
    """Run nmap against one validated target and return its XML."""
    if shutil.which("nmap") is None:
        raise NmapNotFoundError(f"nmap is not installed or not on PATH: {INSTALL_HINT}")
    try:
        scanner = nmap.PortScanner()
    except nmap.PortScannerError as exc:
        raise NmapNotFoundError(f"nmap could not be started ({exc}): {INSTALL_HINT}") from None
    arguments = nmap_arguments(
        target, timeout=timeout, service_detection=service_detection, open_relay=open_relay
    )
    command = ("nmap", "-oX", "-", target.value, "-p", port_spec(ports), *arguments)
    # nmap's --host-timeout normally ends the run; this is the backstop if nmap itself hangs.
    hard_limit = int(timeout) + 60 if timeout is not None else 0
    try:
        scanner.scan(hosts=target.value, ports=port_spec(ports), arguments=" ".join(arguments), timeout=hard_limit)
    except nmap.PortScannerTimeout:
        raise ScannerError(f"nmap did not finish within {hard_limit} s and was stopped", command=command) from None
    except nmap.PortScannerError as exc:
        # python-nmap raises this when nmap's output is not XML, e.g. a usage error.
        raise ScannerError(f"nmap failed: {exc}", command=command, stderr=str(exc)) from None
    xml = scanner.get_nmap_last_output()
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    stderr = "\n".join(scanner.scaninfo().get("error", []) or [])
    return NmapRun(xml=xml, command=command, stderr=stderr)
