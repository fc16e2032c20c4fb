#!/usr/bin/env bash
# Load benchmark: seeds a large dataset, starts the release server, and measures each page
# against /healthz measured in the same run (wrk, loopback only; every run stops by itself).
# Last, 800 seeded members sign in and the members pages are loaded with their cookies in turn
# (bench/viewers.lua): many sessions and teams at once, not one cookie reloading.
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

# wrk NAME PATH [HEADER]: prints req/s, p50, p99 (ms) and keeps req/s for the ratios. With
# COOKIES=FILE (and PICK) set, bench/viewers.lua sends each request with one of FILE's
# cookies to its page instead.
declare -A RPS
measure() {
  local name="$1" path="$2" header="${3:-}"
  if [ -z "$header" ] && [ -z "${COOKIES:-}" ]; then fresh_cookie "$path"; header="Cookie: $COOKIE"; fi
  local out
  if [ -n "${BODY_FILE:-}" ]; then
    out="$(AUTH="${header#Authorization: }" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post.lua "$BASE$path")"
  elif [ -n "${COOKIES:-}" ]; then
    out="$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/viewers.lua "$BASE$path")"
    grep -q '^viewers.lua: ' <<<"$out" || { echo "bench/viewers.lua did not run: $out" >&2; exit 1; }
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
  # redirects: a signed-out cookie sent to /login is caught by check_cookies below.
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

echo "== members pages viewed by many signed-in members (each request another member's session)"
# sign_in PATH EMAIL: signs EMAIL in as a browser does (the form's CSRF token with a cookie
# jar, then the form), visits PATH once (a team page rewrites the cookie: the session keeps
# the team used last) and prints "PATH COOKIE" with the cookie the browser then holds.
sign_in() {
  local path="$1" email="$2" jar token code=""
  jar="$(mktemp "$DATA/jar.XXXXXX")"
  for _ in 1 2 3 4 5; do # a 429 when every password check is taken: try again
    token="$(curl -s -m 30 -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')"
    code="$(curl -s -m 30 -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
      --data-urlencode "email=$email" --data-urlencode "password=bench-password" "$BASE/login")"
    [ "$code" = 303 ] && break
    sleep 1
  done
  [ "$code" = 303 ] && code="$(curl -s -m 30 -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" "$BASE$path")"
  [ "$code" = 200 ] && printf '%s %s\n' "$path" "$(jar_cookie "$jar")"
  rm -f "$jar"
  [ "$code" = 200 ] || { echo "signing in $email for $path failed ($code)" >&2; return 1; }
}
export -f sign_in
export BASE DATA
# sign_in_all FILE: signs in every "PATH EMAIL" line of stdin, four at a time (each sign-in
# waits for one argon2 check), and writes the cookies to FILE.
sign_in_all() {
  xargs -P 4 -L 1 bash -c 'sign_in "$1" "$2"' _ >"$1" || { echo "signing in failed" >&2; exit 1; }
}
# check_cookies FILE: every cookie still opens its page (200, not a redirect to /login) and
# is left as it is (no new cookie), one curl for all; the cookies are distinct sessions.
check_cookies() {
  local config="$DATA/check.curl" n distinct heads ok renewed
  awk -v base="$BASE" '{printf "%surl = \"%s%s\"\nheader = \"Cookie: %s\"\noutput = \"/dev/null\"\ndump-header = \"-\"\nmax-time = 30\n", (NR > 1 ? "next\n" : ""), base, $1, $2}' "$1" >"$config"
  n="$(wc -l <"$1")"
  distinct="$(awk '{print $2}' "$1" | sort -u | wc -l)"
  heads="$(curl -s -K "$config" | tr -d '\r')"
  ok="$(grep -c '^HTTP/[0-9.]* 200' <<<"$heads" || true)"
  renewed="$(grep -ci '^set-cookie:' <<<"$heads" || true)"
  if [ "$ok" != "$n" ] || [ "$renewed" != 0 ] || [ "$distinct" != "$n" ]; then
    echo "FAILED: of the $n cookies in $1, $distinct distinct, $ok opened their page, $renewed were answered with a new cookie" >&2
    exit 1
  fi
}
VIEWERS="$DATA/viewers-big.txt" EIGHTS="$DATA/viewers-eight.txt"
STARTED=$SECONDS
# 400 members of the big team (bench-1 to bench-400; every seeded user has the bench password).
for i in $(seq 1 400); do echo "/a/big/members bench-$i@bench.test"; done | sign_in_all "$VIEWERS"
# The 50 teams of 8 (eight-00 to eight-49), every member signed in to their team's page.
awk '{print "/a/" $1 "/members", $2}' "$DATA/bench-eight.txt" | sign_in_all "$EIGHTS"
check_cookies "$VIEWERS"
check_cookies "$EIGHTS"
echo "($(cat "$VIEWERS" "$EIGHTS" | wc -l) members signed in, $((SECONDS - STARTED)) s)"
COOKIES="$VIEWERS" PICK=rotate measure "members, 5000-member team, 400 viewers" /a/big/members
check_cookies "$VIEWERS"
COOKIES="$EIGHTS" PICK=random measure "members, 50 teams x 8 viewers (random)" /a/eight-00/members
check_cookies "$EIGHTS"
echo -n "RSS after the viewers: "; rss
