#!/usr/bin/env bash
# Benchmarks webhook delivery: a fresh Copydesk server (release build, SQLite by default or
# DATABASE_URL for PostgreSQL) pinned to core 0, the benchmark — writers, and the receiver
# that the server delivers to — pinned to core 1. Reports deliveries per second and the lag
# from an event's commit to its receipt (p50/p99/max), and checks every message arrived.
# Writes results/<date>-webhooks.json (one line per configuration).
#
# Run it holding the build lock, on an otherwise idle machine:
#   flock /tmp/copydesk-cargo.lock load-tests/run-webhooks-bench.sh [--posts N] [--endpoints LIST] [--writers N] [--no-save]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
POSTS=2000
ENDPOINTS=1,4
WRITERS=8
SAVE=1
while [ $# -gt 0 ]; do
  case $1 in
    --posts) POSTS=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --writers) WRITERS=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

(cd "$ROOT" && cargo build --release --bin copydesk)
(cd "$HERE" && cargo build --release --bin webhooks-bench)
SERVER_BIN=$ROOT/target/release/copydesk
BENCH_BIN=$HERE/target/release/webhooks-bench

DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EMAIL=bench@example.com
export COPYDESK_ADMIN_PASSWORD="bench-passphrase-42"
export COPYDESK__DATABASE__DATA_DIR=$DATA
export COPYDESK__SERVER__PORT=$PORT
export COPYDESK__OUTBOUND__ALLOWED_NETWORKS=127.0.0.0/8
export COPYDESK__STATIC__DIR=$DATA/no-web
export COPYDESK__LOG__LEVEL=warn
export COPYDESK__AUTH__ACCESS_TTL_SECS=3600
[ -n "${DATABASE_URL:-}" ] && export COPYDESK__DATABASE__URL=$DATABASE_URL
"$SERVER_BIN" migrate >/dev/null
"$SERVER_BIN" admin create --email "$EMAIL" --name Bench </dev/null >/dev/null
taskset -c "${SERVER_CORE:-0}" "$SERVER_BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/health/live" >/dev/null 2>&1 && break
  sleep 0.1
done

RESULTS=()
for n in ${ENDPOINTS//,/ }; do
  line=$(taskset -c "${GEN_CORE:-1}" "$BENCH_BIN" --server "http://127.0.0.1:$PORT" --email "$EMAIL" \
    --password "$COPYDESK_ADMIN_PASSWORD" --endpoints "$n" --posts "$POSTS" --writers "$WRITERS")
  echo "$line"
  RESULTS+=("$line")
done
if [ "$SAVE" = 1 ]; then
  mkdir -p "$HERE/results"
  printf '%s\n' "${RESULTS[@]}" >"$HERE/results/$(date +%F)-webhooks.json"
fi
