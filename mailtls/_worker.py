"""``python -m mailtls._worker``: one process of a parallel read (see ``_parallel.py``)."""

import os
import sys

from mailtls._parallel import serve

if __name__ == "__main__":
    # The answers get the real standard output; anything else printed (a plugin's chatter)
    # goes to stderr instead of into the stream of pickles.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)
