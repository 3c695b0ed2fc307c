#!/usr/bin/env python3
"""nmap that writes one host, then hangs, having started children that hang too
(one forked, one a separate program, which starts a grandchild of its own)."""
import os
import subprocess
import sys
import time

import _fake

_fake.start()
first, *_ = _fake.targets()
_fake.write(_fake.HEAD + _fake.host(first))
subprocess.Popen([sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '600']); time.sleep(600)"])
if os.fork() == 0:
    time.sleep(600)
    os._exit(0)
time.sleep(600)
