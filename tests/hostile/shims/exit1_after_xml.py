#!/usr/bin/env python3
"""A valid, finished run, then exit status 1."""
import sys

import _fake

_fake.start()
_fake.valid_run()
sys.stderr.write("nmap: something went wrong after the scan\n")
sys.exit(1)
