"""Misbehaving peers for the hostile tests: TCP servers on 127.60.0.0/16 (``servers``),
fake ``nmap`` programs (``shims/``), and crafted XML (``tests/data/hostile/``)."""
