#!/usr/bin/env python3
"""nmap killed midway: one finished host, the next one cut off, then SIGKILL."""
import os
import signal

import _fake

_fake.start()
first, *rest = _fake.targets()
cut = (
    '<host starttime="1700000003"><status state="up" reason="user-set"/>\n'
    f'<address addr="{rest[0] if rest else first}" addrt'
)
_fake.write(_fake.HEAD + _fake.host(first) + cut)
os.kill(os.getpid(), signal.SIGKILL)
