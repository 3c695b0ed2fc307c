"""Run one measurement in a fresh interpreter and read back its wall time and peak memory.

A fresh process per measurement keeps one tool's caches and heap out of another's numbers;
peak RSS (ru_maxrss of the child) is the honest memory figure for lxml and ElementTree,
whose allocations tracemalloc does not see."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def measure(code: str, *, repeat: int = 3) -> dict:
    """Best wall time (s) and peak RSS (MiB) of ``code`` over ``repeat`` fresh runs.

    ``code`` is run after ``import time``; it must set ``result`` to something JSON-able.
    Only the part between ``t0`` and ``t1`` is timed: imports and set-up are not."""
    wrapper = textwrap.dedent(
        """
        import json, resource, time
        {code}
        print(json.dumps({{"seconds": t1 - t0, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "result": result}}))
        """
    ).format(code=textwrap.dedent(code))
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return {"seconds": best["seconds"], "rss_mib": max(r["rss_mib"] for r in runs), "result": best["result"]}
