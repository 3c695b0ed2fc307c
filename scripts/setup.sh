#!/usr/bin/env bash
# Installs what mailtls, its lab and its tests need on Debian (as root): nmap, Dovecot
# and Postfix with apt, then a virtualenv in .venv with mailtls and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh
bash scripts/install-lab-servers.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,docs,notebook]'
