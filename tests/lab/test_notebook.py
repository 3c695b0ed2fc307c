"""The example notebook (docs/example.ipynb), executed against the live lab with nbclient,
so that it cannot rot; and the notebook views of a report."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT

NOTEBOOK = ROOT / "docs" / "example.ipynb"


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


@pytest.mark.lab
def test_example_notebook_runs_against_the_lab(running_lab):
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "keep docs/example.ipynb without outputs: they are made here, against the lab"
    )
    # The kernel runs in the repository, as a user following the notebook would.
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    # The report's own view: summary, chart, matrix, findings of every lab host.
    report_view = _html(code[0])
    assert report_view.startswith('<div class="mailtls">') and "<svg" in report_view and 'class="matrix"' in report_view
    assert "MT101" in report_view and "MT401" not in report_view  # no relay test unless asked
    # The DataFrame of high findings holds the plaintext host's three.
    high = _html(code[1])
    assert "<table" in high and high.count("MT101") >= 1 and "127.0.0.11" in high
    # The chart, the diff and one finding.
    assert any("image/svg+xml" in o.get("data", {}) for o in code[3].outputs)
    diff_view = _html(code[4])
    assert "mailtls diff" in diff_view and "unchanged" in diff_view
    assert "<details" in _html(code[5])
