# Shared by run.sh and profile.sh (sourced, not run): builds the release binary, seeds a
# database at $SCALE on $BACKEND (fresh, unless BENCH_DATA names a SQLite one to reuse),
# starts the server ($PID) on $PORT and signs in as the bench user (admin of `big` and
# `fifty`), leaving $COOKIE, $JAR, $KEY, $DATA and $SERVICE_TOKEN for the caller.
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin teamdeck --example login_storm
BIN="${CARGO_TARGET_DIR:-target}/release/teamdeck"
# BENCH_DATA=DIR keeps the seeded SQLite database in DIR and reuses it on the next run of the
# same scale (for profiling: the runs add to it, so run.sh always seeds afresh).
if [ -n "${BENCH_DATA:-}" ] && [ "$BACKEND" = sqlite ]; then
  DATA="$BENCH_DATA"; mkdir -p "$DATA"; CLEAN=""
else
  DATA="$(mktemp -d)"; CLEAN="$DATA"
fi
trap 'kill "${PID:-}" 2>/dev/null || true; [ -z "$CLEAN" ] || rm -rf "$CLEAN"' EXIT

if [ "$SCALE" = small ]; then
  SEED=(--teams 1000 --users 20000 --memberships 50000 --big-team 5000 --keys 100000 --requests 1000000)
else
  SEED=(--teams 10000 --users 200000 --memberships 500000 --big-team 5000 --keys 1000000 --requests 10000000)
fi
if [ "$BACKEND" = postgres ]; then
  pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  DB_NAME="teamdeck_bench_$$"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB_NAME"
  trap 'kill "${PID:-}" 2>/dev/null || true; [ -z "$CLEAN" ] || rm -rf "$CLEAN"; psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB_NAME" || true' EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
else
  export DATABASE_URL="sqlite://$DATA/teamdeck.db"
fi

if [ "$BACKEND" = postgres ] || [ ! -e "$DATA/.seeded-$SCALE" ]; then
  echo "== seeding ($SCALE, $BACKEND)"
  rm -f "$DATA"/.seeded-* "$DATA"/teamdeck.db*
  "$BIN" seed --data-dir "$DATA" "${SEED[@]}"
  touch "$DATA/.seeded-$SCALE"
else
  echo "== reusing the database seeded in $DATA"
fi
KEY="$(cat "$DATA/bench-key.txt")"

echo "== server"
SERVICE_TOKEN="bench-service-token-$$"
RUST_LOG=warn "$BIN" serve --data-dir "$DATA" --bind "127.0.0.1:$PORT" --service-token "$SERVICE_TOKEN" \
  --login-attempts-per-client 100000000 --login-failures-per-email 100000000 \
  --login-failures-before-delay 100000000 &
PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# Sign in as the bench user (admin of `big` and `fifty`) the way a browser does.
JAR="$DATA/cookies"
rm -f "$JAR"
TOKEN="$(curl -s -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')"
curl -s -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$TOKEN" \
  --data-urlencode "email=bench-0@bench.test" --data-urlencode "password=bench-password" "$BASE/login"
# jar_cookie JAR: every cookie of a curl cookie jar as one Cookie header's value, without
# spaces ("a=1;b=2"): the signed-in session's and the form session's.
jar_cookie() {
  awk -F'\t' 'NF == 7 && ($1 !~ /^#/ || $1 ~ /^#HttpOnly_/) {printf "%s%s=%s", (n++ ? ";" : ""), $6, $7}' "$1"
}
export -f jar_cookie
COOKIE="$(jar_cookie "$JAR")"
curl -fs -o /dev/null -H "Cookie: $COOKIE" "$BASE/a/big/members" || { echo "sign-in failed"; exit 1; }

# fresh_cookie PATH: visits PATH once with the cookie jar, the way a browser would before it
# comes back, and leaves the cookie the server answered with in $COOKIE. A page remembers the
# last team visited in the session; without this every measured request would carry a stale
# cookie and be answered with a new one.
fresh_cookie() {
  curl -fs -o /dev/null -c "$JAR" -b "$JAR" "$BASE$1"
  COOKIE="$(jar_cookie "$JAR")"
}
