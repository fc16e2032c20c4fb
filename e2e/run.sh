#!/usr/bin/env bash
# Real-browser end-to-end tests: Debian's Chromium driven by playwright-core against a debug
# build of the server, one fresh SQLite database per test file. The one entry point for CI:
#   bash e2e/run.sh [extra node --test arguments, e.g. --test-name-pattern=rename]
# Screenshots: target/e2e/*.png (FAILED-*.png for failing flows).
set -euo pipefail
E2E="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$E2E")"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO/$TARGET" ;; esac
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

echo "== e2e: browser"
if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "$CHROMIUM_PATH is missing: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
"$CHROMIUM_PATH" --version 2>/dev/null | head -n 1

echo "== e2e: node packages"
# npm ci when node_modules is missing or does not hold what the lockfile pins (npm keeps
# its own record of what it installed in node_modules/.package-lock.json).
if ! node -e '
  const fs = require("fs");
  const pins = (f) => JSON.stringify(Object.entries(JSON.parse(fs.readFileSync(f, "utf8")).packages)
    .filter(([k]) => k).map(([k, v]) => [k, v.version, v.integrity]).sort());
  process.exit(pins(process.argv[1]) === pins(process.argv[2]) ? 0 : 1);
' "$E2E/package-lock.json" "$E2E/node_modules/.package-lock.json" 2>/dev/null; then
  # playwright-core never downloads a browser; the variable only makes that explicit.
  (cd "$E2E" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
else
  echo "node_modules matches package-lock.json"
fi

echo "== e2e: server (debug build)"
(cd "$REPO" && cargo build --bin teamdeck)

echo "== e2e: tests (screenshots in $TARGET/e2e)"
rm -rf "$TARGET/e2e"
mkdir -p "$TARGET/e2e"
cd "$E2E"
# TAP ends with "# pass N" / "# fail N"; node exits non-zero when a test fails. One test
# file at a time by default (each runs its own server and Chromium): E2E_CONCURRENCY=N.
exec node --test --test-reporter=tap --test-concurrency="${E2E_CONCURRENCY:-1}" "$@" tests/*.test.js
