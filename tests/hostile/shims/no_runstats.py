#!/usr/bin/env python3
"""A run whose XML closes </nmaprun> without the <runstats> nmap always writes."""
import _fake

_fake.start()
_fake.write(_fake.HEAD + "".join(_fake.host(t) for t in _fake.targets()) + "</nmaprun>\n")
