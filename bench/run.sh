#!/usr/bin/env bash
# Load benchmark: seeds a large dataset, starts the release server, and measures each page
# against /healthz measured in the same run (wrk, loopback only; every run stops by itself).
#
#   bash bench/run.sh                    # SQLite, full scale
#   BACKEND=postgres bash bench/run.sh   # PostgreSQL on 127.0.0.1:5432 (a fresh database)
#   SCALE=small bash bench/run.sh        # a quick run on a small dataset
#   DURATION=10s CONNECTIONS=16 …        # wrk settings
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${BACKEND:-sqlite}"
SCALE="${SCALE:-full}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-18480}"
BASE="http://127.0.0.1:$PORT"

unset BENCH_DATA # always a freshly seeded database (profile.sh may reuse one)
source bench/setup.sh

# wrk NAME PATH [HEADER]: prints req/s, p50, p99 (ms) and keeps req/s for the ratios.
declare -A RPS
measure() {
  local name="$1" path="$2" header="${3:-}"
  if [ -z "$header" ]; then fresh_cookie "$path"; header="Cookie: $COOKIE"; fi
  local out
  if [ -n "${BODY_FILE:-}" ]; then
    out="$(AUTH="$header" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post.lua "$BASE$path")"
  else
    out="$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$header" "$BASE$path")"
  fi
  local rps p50 p99
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  RPS[$name]="$rps"
  local ratio=""
  [ -n "${RPS[healthz]:-}" ] && ratio="$(awk -v a="$rps" -v b="${RPS[healthz]}" 'BEGIN {printf "%.3f", a / b}')"
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   %s x healthz\n' "$name" "$rps" "$p50" "$p99" "$ratio"
  # wrk counts answers of 400 and above ("Non-2xx or 3xx") and connection errors, not
  # redirects: a row of error answers measures the error page, not the page.
  local errors
  errors="$(grep -E 'Non-2xx or 3xx responses|Socket errors' <<<"$out" || true)"
  [ -z "$errors" ] || printf '  WARNING: failed answers in "%s": %s\n' "$name" "$(tr -s ' \n' ' ' <<<"$errors")"
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$PID/status"; echo; }

echo "== measurements ($BACKEND, $SCALE, wrk -c$CONNECTIONS -d$DURATION, $(nproc) cores)"
measure healthz /healthz "X-Bench: 1"
# The floor under a page of that size: a static 52 KB file, no session, no database.
HTMX="$(curl -s "$BASE/login" | grep -o '/static/htmx.min.js[^"]*' | head -n 1)"
measure "static file of 52 KB (htmx.min.js)" "$HTMX" "X-Bench: 1"
measure "members, 50-member team" /a/fifty/members
measure "members page 1, 5000-member team" /a/big/members
measure "members search" "/a/big/members?q=user%200042"
measure "GET /api/v1/whoami with a team key" /api/v1/whoami "Authorization: Key $KEY"
printf '{"credential": "Key %s"}' "$KEY" >"$DATA/introspect.json"
BODY_FILE="$DATA/introspect.json" measure "POST /api/v1/introspect (a team key)" /api/v1/introspect "Authorization: Bearer $SERVICE_TOKEN"
echo -n "RSS after page load: "; rss

echo "== usage ingestion: one batch of 1,000 events (server time), then the same batch again"
KEY_ID="$(curl -s -H "Authorization: Key $KEY" "$BASE/api/v1/whoami" | grep -o '"id":"[0-9]*"' | head -n 1 | grep -o '[0-9]*')"
NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
{ printf '{"events":['; for i in $(seq 1 1000); do
    [ "$i" -gt 1 ] && printf ','
    printf '{"id":"bench-%s-%s","account":"fifty","key":"%s","product":"model-large","quantity":%s,"unit":"tokens","unit_price":3,"at":"%s"}' "$$" "$i" "$KEY_ID" "$((1000 + i))" "$NOW"
  done; printf ']}'; } >"$DATA/usage.json"
for attempt in first repeat; do
  curl -s -o "$DATA/usage-answer.json" -w "$attempt: %{time_total}\n" -H "Authorization: Bearer $SERVICE_TOKEN" \
    -H "Content-Type: application/json" --data-binary "@$DATA/usage.json" "$BASE/api/v1/usage/events" |
    awk -F': ' '{printf "%s batch: %.1f ms  ", $1, $2 * 1000}'
  grep -o '"accepted":[0-9]*,"duplicates":[0-9]*' "$DATA/usage-answer.json"
done

echo "== bulk invite of 50 rows (server time of preview + confirm)"
CSV="$DATA/invites.csv"
{ echo "email,role"; for i in $(seq 1 50); do echo "bulk-$i-$$@bench.test,developer"; done; } >"$CSV"
PAGE="$(curl -s -b "$JAR" -c "$JAR" "$BASE/a/fifty/members/bulk")"
TOKEN="$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$PAGE" | head -n 1 | sed 's/.*value="//;s/"$//')"
PREVIEW="$(curl -s -b "$JAR" -c "$JAR" -w '\n%{time_total}' -F "csrf_token=$TOKEN" -F "file=@$CSV;type=text/csv" "$BASE/a/fifty/members/bulk")"
T_PREVIEW="$(tail -n 1 <<<"$PREVIEW")"
ROWS=()
while read -r row; do ROWS+=(--data-urlencode "row=$row"); done < <(grep -o 'name="row" value="[^"]*"' <<<"$PREVIEW" | sed 's/.*value="//;s/"$//;s/&#64;/@/g')
T_CONFIRM="$(curl -s -o /dev/null -b "$JAR" -w '%{time_total}' --data-urlencode "csrf_token=$TOKEN" "${ROWS[@]}" "$BASE/a/fifty/members/bulk/confirm")"
printf 'preview %.1f ms, confirm (50 invites + 50 emails queued, one transaction) %.1f ms\n' \
  "$(awk -v t="$T_PREVIEW" 'BEGIN {print t * 1000}')" "$(awk -v t="$T_CONFIRM" 'BEGIN {print t * 1000}')"

echo "== members page during a login storm"
"$(dirname "$BIN")/examples/login_storm" "$BASE" "$PID" 200 10 &
STORM=$!
sleep 1
measure "members (during login storm)" /a/fifty/members
wait "$STORM" || true
echo -n "RSS at the end: "; rss
