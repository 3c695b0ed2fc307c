#!/usr/bin/env python3
"""nmap that hangs when asked for its version (-V), and scans normally otherwise."""
import sys
import time

import _fake

_fake.log()
if "-V" in sys.argv or "--version" in sys.argv:
    time.sleep(600)
_fake.valid_run()
