"""Beyond the port: what a mail domain publishes about its transport security (MX, MTA-STS,
TLS-RPT, DANE), gathered from DNS and the MTA-STS policy server into the facts of a
``DomainRecord`` (``model/domain.py``). Nothing here scans or judges: ``mailtls.assess_domain``
(``_api/domains.py``) composes these facts with the scan of each MX host and the domain rules
(``rules/builtin/domain.py``, MT5xx). See docs/domain.md.
"""

from ._dns import Lookups
from .options import DomainOptions

__all__ = ["DomainOptions", "Lookups"]
