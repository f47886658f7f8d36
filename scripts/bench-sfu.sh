#!/usr/bin/env bash
# SFU benchmark (docs/benchmarks.md): runs `parley serve` and `parley
# loadtest` as separate processes on loopback for the issue's scenarios and
# prints one line per scenario. Server CPU per forwarded packet comes from
# the server's own /metrics (process_cpu_seconds_total over
# parley_rtp_packets_forwarded_total) during the measurement window, read
# on its metrics listener. The load clients all come from 127.0.0.1: the
# server runs without its per-address socket and join limits.
#
# Usage: scripts/bench-sfu.sh [duration] [scenario...]   (default 30s, all)
# BURST=1 sends video frames unpaced (as simpler load tools do).
# SERVER_GOMAXPROCS=N runs the server alone with GOMAXPROCS=N.
# RECORD=1 records every meeting (loadtest --record) and prints the disk
# bytes per participant-hour from the recordings' manifests.
# BIN=path uses that parley binary instead of building one; SERVER_BIN=path
# runs that binary as the server (the load tool stays BIN's): how
# scripts/bench-sfu-ab.sh compares two servers under the same load.
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-30s}"; shift || true
scenarios=("${@:-a b c e}")
bin=${BIN:-}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/parley
  go build -o "$bin" ./cmd/parley
fi
server_bin=${SERVER_BIN:-$bin}
port=18480
mport=18481
data=$(mktemp -d)
# Older binaries (before the metrics listener and per-address limits)
# serve /metrics on the main listener and take neither flag: the A/B
# script runs such a one with its own load tool.
server_flags=(--metrics-listen 127.0.0.1:$mport --ip-sockets 0 --ip-joins-per-second 0)
metrics_url=http://127.0.0.1:$mport
# (The help is read whole first: grep -q leaving early made the binary
# die of SIGPIPE, which pipefail took for "no such flag" in some runs.)
server_help=$("$server_bin" serve --help 2>&1 || true)
if ! grep -q -- -metrics-listen <<<"$server_help"; then
  server_flags=()
  metrics_url=
fi
env ${SERVER_GOMAXPROCS:+GOMAXPROCS=$SERVER_GOMAXPROCS} "$server_bin" serve --listen 127.0.0.1:$port --data-dir "$data" --udp-port 0 --tcp-port -1 \
  --ice-interfaces lo --media-ip 127.0.0.1 --log-level warn "${server_flags[@]}" 2>"$data/serve.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done

run() { # name, loadtest flags...
  local name=$1; shift
  local out
  local extra=()
  [ "${BURST:-}" = 1 ] && extra+=(--burst)
  [ "${RECORD:-}" = 1 ] && extra+=(--record)
  [ -n "$metrics_url" ] && extra+=(--metrics-url "$metrics_url")
  out=$("$bin" loadtest "${extra[@]}" --url http://127.0.0.1:$port --room "bench-scenario-$(echo "$name" | tr abce qrst)q${RECORD:+-rec}-$(tr -dc a-z </dev/urandom | head -c 6)" --duration "$dur" --json "$@" 2>"$data/loadtest-$name.log") || true
  python3 - "$name" "$out" "$data/loadtest-$name.log" "$data/serve.log" <<'PY'
import json, sys
name, out = sys.argv[1], sys.argv[2]
try:
    r = json.loads(out)
except Exception:
    tail = lambda f: " | ".join(open(f, errors="replace").read().splitlines()[-3:])
    print(f"{name}: no report: {out[:300]} (load tool: {tail(sys.argv[3])}; server: {tail(sys.argv[4])})"); sys.exit()
s = r.get("server") or {}
print(f"{name}: tracks {r['tracks_received']}/{r['tracks_expected']}  "
      f"server {s.get('cpu_us_per_forwarded_packet',0):.2f} us/pkt  "
      f"{s.get('packets_forwarded_per_second',0):.0f} pkt/s  "
      f"peak RSS {s.get('peak_rss_bytes',0)/1e6:.0f} MB  loss {r['packet_loss_pct']:.3f} %  "
      f"join p50/p99 {r['join_ms_p50']:.0f}/{r['join_ms_p99']:.0f} ms  "
      f"delay p50/p99 {r['delay_ms_p50']:.2f}/{r['delay_ms_p99']:.2f} ms  "
      f"load tool CPU {r['load_tool_cpu_seconds']:.1f} s vs server {s.get('cpu_seconds',0):.1f} s")
PY
  if [ "${RECORD:-}" = 1 ]; then
    sleep 3 # the recording's manifest is final once the room has closed
    python3 - "$data/recordings" <<'PY'
import glob, json, sys
kinds = {}
for m in glob.glob(sys.argv[1] + "/*/manifest.json"):
    for f in json.load(open(m))["files"]:
        k = kinds.setdefault(f["kind"], [0, 0.0, 0])
        k[0] += f["bytes"]; k[1] += max(f["end"] - f["start"], 0); k[2] += f["dropped"]
for kind, (b, s, d) in sorted(kinds.items()):
    print(f"  recorded {kind}: {b/1e6:.1f} MB over {s:.0f} track-seconds = {b/s*3600/1e6:.1f} MB per participant-hour, {d} packets dropped")
PY
    rm -rf "$data/recordings"
  fi
}
for s in ${scenarios[@]}; do
  case $s in
    a) run a --video-publishers 1 --audio-publishers 1 --subscribers 20 --layer high ;;
    b) run b --video-publishers 0 --audio-publishers 10 --subscribers 50 ;;
    c) run c --video-publishers 1 --audio-publishers 1 --subscribers 20 --layer medium ;;
    e) run e --video-publishers 1 --audio-publishers 1 --subscribers 100 --layer high ;;
    *) echo "unknown scenario $s" >&2 ;;
  esac
done
