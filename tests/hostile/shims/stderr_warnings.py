#!/usr/bin/env python3
"""A valid run, with nmap's kind of warnings on stderr and exit 0."""
import sys

import _fake

_fake.start()
sys.stderr.write("Warning: 127.60.2.9 giving up on port because retransmission cap hit (2).\n")
_fake.valid_run()
sys.stderr.write("Warning: Hostname mx.example resolves to 2 IPs. Using 127.60.2.9.\n")
