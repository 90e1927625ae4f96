#!/usr/bin/env bash
# Watch the live sensor catch an evil twin, without a Wi-Fi adapter, in one command.
#
# In a private network namespace, a scenario player creates a simulated monitor
# interface (mon0: a TAP device with radiotap link type) and plays the city
# hall's two access points on channels 1 and 36. The real daemon runs on it
# with the simulated radio: the player writes an AP's beacons only while the
# daemon's radio is tuned to that AP's channel, as on the air. After a few
# seconds an evil twin appears on channel 13, outside the facility's channels;
# the daemon's channel sweep finds it and raises an alert. Then the daemon is
# stopped with SIGTERM and everything is removed again.
#
# Needs root (network namespace, TAP device) and the `ip` command (iproute2).
# Timings (whole seconds) can be changed with environment variables:
#   ETM_DEMO_TWIN_AFTER_S   when the twin appears (default 5)
#   ETM_DEMO_TOTAL_S        when the daemon is stopped, if the alert came by then (default 15)
#   ETM_DEMO_ALERT_TIMEOUT_S  how long to wait for the alert after the twin appears (default 30)
#   ETM_DEMO_SKIP_SETUP=1   do not run scripts/setup.sh (the venv is already there)
set -euo pipefail

TWIN_AFTER_S=${ETM_DEMO_TWIN_AFTER_S:-5}
TOTAL_S=${ETM_DEMO_TOTAL_S:-15}
ALERT_TIMEOUT_S=${ETM_DEMO_ALERT_TIMEOUT_S:-30}
TWIN_BSSID=02:5e:1c:9a:33:7b
TWIN_CHANNEL=13

say() { printf '\n==> %s\n' "$*"; }
fail() { printf 'live-demo: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  fail "needs root: it creates a network namespace and a simulated Wi-Fi interface (TAP device).
Run it as: sudo scripts/live-demo.sh"
fi
for value in "$TWIN_AFTER_S" "$TOTAL_S" "$ALERT_TIMEOUT_S"; do
  case $value in
    '' | *[!0-9]*) fail "ETM_DEMO_*_S must be whole seconds, got '$value'" ;;
  esac
done
cd "$(dirname "$0")/.."
REPO=$(pwd)

NS="etm-demo-$$"
WORK=$(mktemp -d /tmp/etm-demo.XXXXXX)
PLAYER_PID=""
DAEMON_PID=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  exec 3>&-
  for pid in $DAEMON_PID $PLAYER_PID; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $DAEMON_PID $PLAYER_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "live-demo: interrupted"; exit 130' INT TERM

if [ "${ETM_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  say "Setting up: scripts/setup.sh (Python venv in .venv, libpcap for the kernel filter) ..."
  if ! scripts/setup.sh >"$WORK/setup.log" 2>&1; then
    cat "$WORK/setup.log" >&2
    fail "scripts/setup.sh failed (output above)"
  fi
fi
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || fail "no .venv: run scripts/setup.sh first"
command -v ip >/dev/null || fail "needs the ip command (namespaces): apt-get install iproute2"

# Wait until FILE has a line matching PATTERN, at most SECONDS; 0 if found.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 waited=0
  while ! grep -q -- "$pattern" "$file" 2>/dev/null; do
    [ "$waited" -ge $((seconds * 10)) ] && return 1
    sleep 0.1
    waited=$((waited + 1))
  done
}

say "Creating network namespace $NS (a private network stack, removed at the end)"
ip netns add "$NS"
ip -n "$NS" link set lo up

# The demo files are copied so that the radio's control socket lands in $WORK.
cp config/demo/sensor.yaml config/demo/registry.yaml config/demo/scenario.json "$WORK/"

say "Starting the scenario player: simulated monitor interface mon0, the city hall's two APs
    Shinjuku_Free_Wi-Fi 00:1a:2b:3c:4d:50 on channel 1 and 00:1a:2b:3c:4d:60 on channel 36
    (the registry, config/demo/registry.yaml, lists exactly these two)"
mkfifo "$WORK/player.in"
# Opened read-write, so opening does not block; the player reads its commands from it.
exec 3<>"$WORK/player.in"
(cd "$REPO" && exec ip netns exec "$NS" "$PY" -m evil_twin_monitor.simulation play \
    --interface mon0 --control "$WORK/radio.sock" --scenario "$WORK/scenario.json" --quiet \
    <"$WORK/player.in" >"$WORK/player.out" 2>&1) &
PLAYER_PID=$!
wait_for_line "$WORK/player.out" '"event":"ready"' 20 \
  || fail "the player did not start: $(cat "$WORK/player.out")"
# link/ieee802.11/radiotap: what a monitor interface shows
ip -n "$NS" link show mon0 | sed 's/^/    ip link: /'

say "Starting the sensor daemon: evil-twin-monitor run --config config/demo/sensor.yaml
    (from a copy in $WORK). It hops: home channels 1 and 36 for 0.3 s each, then 8 other
    channels for 0.11 s each, so every JP channel is visited within about 6 s.
    Its log follows (console format)."
echo
# Its log goes to the terminal and to daemon.log (tee ignores Ctrl-C, so the last lines show).
(cd "$WORK" && exec ip netns exec "$NS" "$PY" -m evil_twin_monitor run \
    --config "$WORK/sensor.yaml" --log-format console) \
  2> >(trap "" INT; exec tee "$WORK/daemon.log" >&2) &
DAEMON_PID=$!
START=$SECONDS
wait_for_line "$WORK/daemon.log" capture_started 20 || fail "the daemon did not start capturing"

sleep "$TWIN_AFTER_S"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited early"
ALERT_LINE="] alert .*bssid="
if grep -q "$ALERT_LINE" "$WORK/daemon.log"; then
  SO_FAR="Unexpectedly, alerts were raised already (above)."
else
  SO_FAR="The city's APs raised nothing so far: they are in the registry."
fi
say "An evil twin appears: SSID Shinjuku_Free_Wi-Fi, BSSID $TWIN_BSSID, open (no password),
    a hostapd laptop on channel $TWIN_CHANNEL, which none of the city's APs uses.
    $SO_FAR"
TWIN='{"name": "twin", "bssid": "'$TWIN_BSSID'", "ssid": "Shinjuku_Free_Wi-Fi",
       "channel": '$TWIN_CHANNEL', "security": "open", "profile": "hostapd"}'
echo '{"cmd": "add", "transmitter": '"$TWIN"'}' | tr -d '\n' >&3
echo >&3
APPEARED=$SECONDS
echo

if wait_for_line "$WORK/daemon.log" "$ALERT_LINE$TWIN_BSSID" "$ALERT_TIMEOUT_S"; then
  CAUGHT=1
  say "Caught: the sweep reached channel $TWIN_CHANNEL about $((SECONDS - APPEARED)) s after the
    twin appeared, heard its beacon and raised the alert above (rule, severity, SSID, BSSID,
    channel, evidence).
    Under systemd the same event goes to the journal, as one JSON line."
else
  CAUGHT=0
  say "No alert for the twin within $ALERT_TIMEOUT_S s (this should not happen)."
fi

while [ $((SECONDS - START)) -lt "$TOTAL_S" ]; do sleep 0.2; done
say "Stopping the daemon with SIGTERM, as systemd does: it closes open alerts and restores
    the radio."
echo
kill -TERM "$DAEMON_PID"
STATUS=0
wait "$DAEMON_PID" || STATUS=$?
DAEMON_PID=""
sleep 0.2   # let tee print the last lines
say "The daemon exited with status $STATUS. Removing the namespace, the interface and $WORK."
[ "$STATUS" -eq 0 ] || fail "the daemon exited with status $STATUS"
[ "$CAUGHT" -eq 1 ] || fail "the evil twin was not caught"
echo "Done. Next: README.md, \"The live sensor (run)\", for a real adapter and the systemd service."
