#!/usr/bin/env bash
# The main job: install what is missing, start the loopback lab, assess every lab host, print the findings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
