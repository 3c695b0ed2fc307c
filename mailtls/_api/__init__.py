"""The public entry points: the steps put together, target → nmap run → XML → records →
rules → findings → report. Live scans (``live.py``), files of nmap XML (``files.py``) and
mail domains (``domains.py``) end the same way: each host goes through the rules once, as
soon as it has been read, and becomes a ``TargetResult``."""

from .assessment import Assessment, Progress
from .domains import assess_domain
from .files import assess_xml, iter_assess_xml
from .live import assess, assess_many, iter_assess

__all__ = [
    "Assessment",
    "Progress",
    "assess",
    "assess_domain",
    "assess_many",
    "assess_xml",
    "iter_assess",
    "iter_assess_xml",
]
