#!/usr/bin/env python3
"""nmap refusing its command line: usage on stderr, exit 255, no XML at all."""
import sys

import _fake

_fake.start()
sys.stderr.write("Nmap 7.93 ( https://nmap.org )\nUsage: nmap [Scan Type(s)] [Options] {target specification}\n"
                 "Unrecognized option: --fake\nQUITTING!\n")
sys.exit(255)
