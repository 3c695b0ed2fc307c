"""Findings as a pandas DataFrame, for notebooks: one row per finding, worst first, the columns
of ``FINDING_COLUMNS`` (as in the CSV). ``Report.to_dataframe()`` is the same (see
``model/views.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import MailTlsError
from ..model import views
from ..model.findings import FINDING_COLUMNS, Severity
from ..model.report import Report

if TYPE_CHECKING:
    import pandas


@views.dataframe.register(Report)
def to_dataframe(report: Report) -> pandas.DataFrame:
    """The findings as a pandas DataFrame, one row per finding, worst first.

    Needs the optional extra: ``pip install 'mailtls[pandas]'``. Severity is an ordered
    categorical, so ``df.sort_values("severity")`` and ``df[df.severity >= "medium"]`` work."""
    try:
        import pandas
    except ImportError:
        raise MailTlsError("to_dataframe needs pandas: pip install 'mailtls[pandas]'") from None
    frame = pandas.DataFrame(
        {column.name: [column.value(f) for f in report.findings] for column in FINDING_COLUMNS},
        columns=[column.name for column in FINDING_COLUMNS],
    )
    order = [s.value for s in Severity]
    frame["severity"] = pandas.Categorical(frame["severity"], categories=order, ordered=True)
    frame["port"] = frame["port"].astype("Int64")
    frame["cwe"] = frame["cwe"].astype("Int64")
    return frame
