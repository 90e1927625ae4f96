#!/usr/bin/env bash
# Install evil-twin-monitor as a systemd service on a Debian machine (12 or later).
#
#   sudo scripts/install-service.sh            # install or update; never starts the service
#   scripts/install-service.sh --dry-run       # print what it would do, change nothing
#
# What it does, each step skipped when already done (so it is safe to run
# again, e.g. after `git pull` to update the daemon):
#   1. Debian packages: python3-venv (the venv), libpcap0.8 (compiles the
#      kernel capture filter), procps (`kill`, used by `systemctl reload`);
#   2. the service user `evil-twin-monitor` (systemd-sysusers);
#   3. a virtual environment in /opt/evil-twin-monitor with this checkout
#      installed into it (a copy, not an editable install: the service does
#      not depend on the checkout afterwards);
#   4. /etc/evil-twin-monitor/: sensor.yaml (from config/sensor.example.yaml,
#      only if absent) and an empty registry/ directory, readable by the
#      service user, writable only by root;
#   5. the unit in /etc/systemd/system and `systemctl daemon-reload`.
# The unit file is replaced on every run; local changes belong in a drop-in
# (`systemctl edit evil-twin-monitor`). The configuration is never overwritten.
set -euo pipefail

NAME=evil-twin-monitor
PREFIX=/opt/$NAME
CONFDIR=/etc/$NAME
UNITDIR=/etc/systemd/system
SYSUSERSDIR=/etc/sysusers.d
APT_PACKAGES=(python3-venv libpcap0.8 procps)
# Debian's interpreter, never whichever python3 comes first on PATH: a venv
# built on a pyenv/conda Python under /root or /home would not even start
# under the unit's ProtectHome=yes.
PYTHON=/usr/bin/python3

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
}

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run|-n) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-service: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
UNIT_SRC=$SRC/systemd/$NAME.service
SYSUSERS_SRC=$SRC/systemd/sysusers.d/$NAME.conf
EXAMPLE_CONFIG=$SRC/config/sensor.example.yaml
for f in "$SRC/pyproject.toml" "$UNIT_SRC" "$SYSUSERS_SRC" "$EXAMPLE_CONFIG"; do
  [ -f "$f" ] || { echo "install-service: $f is missing; run this script from a complete checkout" >&2; exit 1; }
done

# Files created below must be readable by the service user whatever root's umask is.
umask 022

# run CMD...: execute, or with --dry-run only print (shell-quoted, so it can be pasted).
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}
say() { printf '%s\n' "$*"; }

if [ "$DRY_RUN" = 1 ]; then
  say "install-service: dry run, nothing is changed (checkout: $SRC)"
elif [ "$(id -u)" -ne 0 ]; then
  echo "install-service: must run as root: sudo $0 (or --dry-run to see what it would do)" >&2
  exit 1
fi

# --- 1. Debian packages --------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "== Debian packages: installing ${missing[*]}"
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "== Debian packages: ${APT_PACKAGES[*]} already installed"
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  if [ "$DRY_RUN" = 1 ]; then
    say "   (warning: $PYTHON is missing or older than 3.11; the install would fail)"
  else
    echo "install-service: evil-twin-monitor needs Python 3.11 or later (Debian 12 or later); $PYTHON is $("$PYTHON" -V 2>&1)" >&2
    exit 1
  fi
fi

# --- 2. service user -----------------------------------------------------------
say "== service user $NAME (systemd-sysusers)"
run install -D -m 0644 "$SYSUSERS_SRC" "$SYSUSERSDIR/$NAME.conf"
run systemd-sysusers "$SYSUSERSDIR/$NAME.conf"

# --- 3. virtual environment ----------------------------------------------------
# A venv is reused only if it was made from $PYTHON and still runs; otherwise
# (first install, Python upgraded by a Debian release upgrade, made from
# another interpreter) it is rebuilt from scratch (--clear).
if [ -x "$PREFIX/bin/python" ] && "$PREFIX/bin/python" -c '' 2>/dev/null \
   && grep -qx "home = $(dirname "$PYTHON")" "$PREFIX/pyvenv.cfg" 2>/dev/null; then
  say "== virtual environment $PREFIX exists; updating the package in it"
else
  say "== virtual environment $PREFIX (with $PYTHON)"
  run "$PYTHON" -m venv --clear "$PREFIX"
fi
# --upgrade with the default only-if-needed strategy: the package itself is
# rebuilt from the checkout, dependencies are touched only when it requires it.
run "$PREFIX/bin/python" -m pip install --quiet --upgrade "$SRC"

# --- 4. configuration skeleton -------------------------------------------------
# root owns it and the service group may read it: the daemon cannot change
# what it is told to watch. 0750 matches ConfigurationDirectoryMode= in the unit.
say "== configuration $CONFDIR"
run install -d -m 0750 -o root -g "$NAME" "$CONFDIR" "$CONFDIR/registry"
if [ -e "$CONFDIR/sensor.yaml" ]; then
  say "   $CONFDIR/sensor.yaml exists; left as it is"
else
  run install -m 0640 -o root -g "$NAME" "$EXAMPLE_CONFIG" "$CONFDIR/sensor.yaml"
fi

# --- 5. systemd unit -----------------------------------------------------------
say "== unit $UNITDIR/$NAME.service"
run install -m 0644 "$UNIT_SRC" "$UNITDIR/$NAME.service"
if [ -d /run/systemd/system ]; then
  run systemctl daemon-reload
else
  say "   (systemd is not running here: no daemon-reload; the unit is picked up at the next boot)"
fi

if [ "$DRY_RUN" = 1 ]; then
  done_line="Dry run: nothing was changed. A real run installs, but does NOT start, the service; then:"
else
  done_line="Installed; the service is NOT started. Next steps:"
fi
cat <<EOF

$done_line
  1. Describe this sensor: edit $CONFDIR/sensor.yaml
     (sensor.id, sensor.facility, radio.interface: see \`iw dev\`).
  2. Put the registry of the city's access points (YAML files) into $CONFDIR/registry/
     (as root; then: chgrp -R $NAME $CONFDIR/registry && chmod -R g+rX,o-rwx $CONFDIR/registry).
  3. Check it as the service user:
       runuser -u $NAME -- $PREFIX/bin/evil-twin-monitor check-config --config $CONFDIR/sensor.yaml
  4. Start it now and at every boot, and watch it:
       systemctl enable --now $NAME
       systemctl status $NAME        # STATUS line: frames/s and current channel
       journalctl -u $NAME -f        # one JSON line per event; alerts have "event": "alert"
  After editing the configuration or the registry: systemctl reload $NAME
EOF
