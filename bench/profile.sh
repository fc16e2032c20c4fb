#!/usr/bin/env bash
# Where the server spends its time on one path under load: perf samples (cpu-clock, call
# graphs) of the release server while wrk loads PROFILE_PATH; prints the hottest functions
# and keeps the full report in target/bench/.
#
#   PROFILE_PATH=/a/fifty/members bash bench/profile.sh
#   BENCH_DATA=/tmp/bench SCALE=small PROFILE_PATH=/api/v1/whoami AUTH="Key" bash bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${BACKEND:-sqlite}"
SCALE="${SCALE:-small}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-18481}"
BASE="http://127.0.0.1:$PORT"
PROFILE_PATH="${PROFILE_PATH:-/a/fifty/members}"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }

source bench/setup.sh

if [ "${AUTH:-}" = Key ]; then
  HEADER="Authorization: Key $KEY"
else
  fresh_cookie "$PROFILE_PATH"
  HEADER="Cookie: $COOKIE"
fi
OUT="target/bench"
mkdir -p "$OUT"
NAME="$(tr -c 'a-zA-Z0-9\n' '_' <<<"$PROFILE_PATH")"
# DWARF call graphs: the release build keeps no frame pointers.
perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$PID" -o "$OUT/perf$NAME.data" &
PERF=$!
sleep 0.5
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$HEADER" "$BASE$PROFILE_PATH" | grep -E 'Requests/sec|50%|99%'
kill -INT "$PERF"; wait "$PERF" || true
perf report -i "$OUT/perf$NAME.data" --no-children --stdio --percent-limit 0.5 -g none >"$OUT/perf$NAME.txt"
perf report -i "$OUT/perf$NAME.data" --children --stdio --percent-limit 2 -g none >"$OUT/perf$NAME-children.txt"
echo "== hottest functions (self time); full reports in $OUT/perf$NAME*.txt"
grep -v '^#' "$OUT/perf$NAME.txt" | grep -v '^$' | head -n 40
