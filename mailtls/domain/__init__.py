"""Beyond the port: a mail domain's transport security (MX, MTA-STS, TLS-RPT, DANE).

``assess_domain`` gathers a ``DomainRecord`` (``model/domain.py``) from DNS, the MTA-STS
policy server and an nmap scan of each MX host's port 25, and runs the domain rules
(``rules/builtin/domain.py``, MT5xx) over it. See docs/domain.md.
"""

from ._assess import assess_domain

__all__ = ["assess_domain"]
