#!/usr/bin/env bash
# The test suite: install what is missing, lint and type-check, then pytest (the suite starts and stops the lab itself).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Both settings live in pyproject.toml: ruff on the whole repository, mypy (strict) on mailtls/.
# Either one failing fails the script here, before the slower suite (set -e).
.venv/bin/ruff check .
.venv/bin/mypy
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
