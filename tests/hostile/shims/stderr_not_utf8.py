#!/usr/bin/env python3
"""A valid run, with bytes on stderr that are not UTF-8."""
import sys

import _fake

_fake.start()
_fake.valid_run()
sys.stderr.buffer.write(b"Warning: \xff\xfe odd \xc3\x28 bytes from a wrapper\n")
sys.stderr.flush()
