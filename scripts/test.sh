#!/usr/bin/env bash
# Set up (incl. the Debian packages the tests use), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-test-tools
exec .venv/bin/python -m pytest "$@"
