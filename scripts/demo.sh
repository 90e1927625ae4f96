#!/usr/bin/env bash
# Set up, then replay the bundled example: a legitimate deployment plus an evil
# twin, a lookalike network and a deauthentication flood.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/evil-twin-monitor check-config --registry fixtures/registry.yaml
echo
.venv/bin/evil-twin-monitor replay fixtures/pcaps/demo_evil_twin.pcap \
  --registry fixtures/registry.yaml --facility city-hall --sensor demo
