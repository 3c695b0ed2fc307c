"""Every exception mailtls raises, in one tree.

    MailTlsError                 the root: catch this to catch everything from mailtls
    ├── TargetError              a target that is not an address, a host name or (for assess_many) a range
    ├── PortsError               a port list that is not whole numbers in 1-65535
    ├── OptionError              another option that cannot work (a timeout of nan, a concurrency of 0)
    ├── ScannerError             nmap could not be started at all
    │   └── NmapNotFoundError    nmap is not installed (the message says how to install it)
    ├── XmlError                 input that is not nmap XML, or XML that is unsafe to read
    ├── RegistryError            a rule declaration or a registry that cannot work
    └── SerializationError       JSON that does not describe a mailtls report

Only misuse by the caller raises: a bad target, bad ports, a bad option, a missing
nmap. Failures *during* a scan (a host that did not answer, an nmap run that failed
or hung, a rule that raised, a plugin that did not load, a file cut short) are not
raised: they are recorded as problems (``Report.all_problems``) and the rest goes on.
``strict=True`` re-raises a failing rule's exception, for debugging.

Foreign exceptions are translated where they enter: starting nmap in ``scan/runner.py``,
lxml's in ``nmapxml/reader.py``, cattrs' in ``output/json.py``.
"""

from __future__ import annotations


class MailTlsError(Exception):
    """Root of every exception raised by mailtls."""


class TargetError(MailTlsError, ValueError):
    """The target is not a single IP address or DNS host name."""

    def __init__(self, target: object, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"invalid target {target!r}: {reason}")


class PortsError(MailTlsError, ValueError):
    """The port list is not made of whole numbers between 1 and 65535."""


class OptionError(MailTlsError, ValueError):
    """An option of ``assess``/``assess_many`` that cannot work: the message says which and why."""


class ScannerError(MailTlsError):
    """nmap could not be run, or its answer could not be used."""

    def __init__(self, message: str, *, command: tuple[str, ...] = (), stderr: str = "") -> None:
        self.command = command
        self.stderr = stderr
        super().__init__(message)


class NmapNotFoundError(ScannerError):
    """nmap is not installed or not on PATH."""


class XmlError(MailTlsError, ValueError):
    """The input is not nmap XML, or is XML that mailtls refuses to read."""


class RegistryError(MailTlsError):
    """A rule declaration, a rule set or a registry option that cannot work (a rule that
    fails while it runs is no exception: it is a ``Problem`` of ``Stage.RULE``)."""


class SerializationError(MailTlsError, ValueError):
    """JSON that does not describe a mailtls report."""
