"""How a model value is shown, answered from above the model: the model asks, the outputs answer.

``Report``, ``Finding`` and ``Diff`` show themselves in a notebook (``_repr_html_``) and a
report becomes a pandas DataFrame (``Report.to_dataframe``), yet the model imports nothing
above it. Each of these is a ``functools.singledispatch`` function here with no answer of
its own; the output layer registers one per type (``output/notebook.py``), and ``import
mailtls`` imports it.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.singledispatch
def html(value: object) -> str | None:
    """The value as an HTML fragment for a notebook; None (the notebook shows its repr) for a
    type nothing was registered for."""
    return None


@functools.singledispatch
def dataframe(value: object) -> Any:
    """The value as a pandas DataFrame."""
    raise TypeError(f"no DataFrame view of {type(value).__name__}")
