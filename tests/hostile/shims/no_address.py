#!/usr/bin/env python3
"""A run with a <host> that has no <address>, before the real host."""
import _fake

_fake.start()
targets = _fake.targets()
orphan = _fake.host("0.0.0.0").replace('<address addr="0.0.0.0" addrtype="ipv4"/>\n', "")
_fake.write(_fake.HEAD + orphan + "".join(_fake.host(t) for t in targets) + _fake.TAIL)
