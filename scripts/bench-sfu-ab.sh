#!/usr/bin/env bash
# Compares the server CPU per forwarded packet of two parley binaries on
# scripts/bench-sfu.sh's loopback scenarios, measured alternately in one
# run (absolute figures on a shared machine move ±30 % from day to day;
# only same-run ratios count). Each binary runs with its own load tool
# (an old server does not speak today's join protocol); today's clients
# also NACK and resend, which older ones did not.
#
# Usage: scripts/bench-sfu-ab.sh OLD_BIN NEW_BIN [duration] [rounds] [scenario...]
#   (default 20s, 2 rounds, scenarios a b e)
# Build an old binary with e.g.:
#   git worktree add /tmp/old fea492f && (cd /tmp/old && go build -o /tmp/parley-old ./cmd/parley)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
old=$(realpath "$1"); new=$(realpath "$2"); dur=${3:-20s}; rounds=${4:-2}
shift 4 2>/dev/null || shift $#
scenarios=("${@:-a b e}")
out=$(mktemp)
for r in $(seq "$rounds"); do
  for which in old new; do
    bin=$old; [ $which = new ] && bin=$new
    BIN=$bin scripts/bench-sfu.sh "$dur" "${scenarios[@]}" | sed "s/^/$which $r /" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import re, sys, statistics
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(old|new) \d+ (\w+): .*server ([\d.]+) us/pkt.*peak RSS (\d+) MB\s+loss ([\d.]+) %", line)
    if m:
        runs.setdefault((m[2], m[1]), []).append((float(m[3]), int(m[4]), float(m[5])))
print("scenario  old µs/pkt (runs)          new µs/pkt (runs)          new/old  new peak RSS, loss")
for sc in sorted({k[0] for k in runs}):
    o, n = runs.get((sc, "old"), []), runs.get((sc, "new"), [])
    if not o or not n:
        continue
    mo, mn = statistics.mean(x[0] for x in o), statistics.mean(x[0] for x in n)
    fmt = lambda l: ", ".join(f"{x[0]:.2f}" for x in l)
    print(f"{sc:9} {mo:6.2f} ({fmt(o)})  {mn:6.2f} ({fmt(n)})  {mn/mo:6.2f}   "
          f"{max(x[1] for x in n)} MB, {max(x[2] for x in n):.3f} %")
PY
