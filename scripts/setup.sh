#!/usr/bin/env bash
# Create .venv and install the package with its test extras. Safe to run again.
# On a fresh Debian machine, as root, it first installs what Debian lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
# libpcap compiles the kernel capture filter of `run` (through scapy).
ldconfig -p 2>/dev/null | grep -q 'libpcap\.so' || need_apt+=(libpcap0.8)
# ip: the live demo's network namespace.
command -v ip >/dev/null || need_apt+=(iproute2)
if [ "${1:-}" = "--with-test-tools" ]; then
  command -v tshark >/dev/null || need_apt+=(tshark)                   # reference decoder
  command -v systemd-analyze >/dev/null || need_apt+=(systemd)         # unit verification
  command -v setpriv >/dev/null || need_apt+=(util-linux)              # dropping capabilities
  command -v promtool >/dev/null || need_apt+=(prometheus)             # rules, config, real server
  command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)  # alert routing config
  command -v chromium >/dev/null || need_apt+=(chromium)               # renders the audit report
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install these Debian packages first: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
