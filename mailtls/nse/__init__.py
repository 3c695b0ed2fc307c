"""NSE scripts that ship with mailtls, for what nmap's own scripts do not tell.

Each ``NAME.nse`` here is listed in ``protocols.PACKAGED_SCRIPTS`` and reaches nmap by
its path (``--script /…/mailtls/nse/NAME.nse``). Read a script's header for what it
sends and what it prints.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def script_path(name: str) -> str:
    """The path nmap is given for a packaged script."""
    path = _HERE / f"{name}.nse"
    if not path.is_file():
        raise FileNotFoundError(f"packaged NSE script {name!r} is missing from {_HERE}: reinstall mailtls")
    return str(path)
