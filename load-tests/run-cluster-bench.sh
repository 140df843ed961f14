#!/usr/bin/env bash
# Two Copydesk nodes on PostgreSQL + Redis, clients split across them: cross-node delivery
# latency and the time to repair dropped bus messages. Both nodes, PostgreSQL and Redis share
# core 0; the generator runs on core 1. Writes results/<date>-cluster.json and prints a table.
#
# Run it holding the build lock, so nobody compiles while it measures:
#   flock /tmp/copydesk-cargo.lock load-tests/run-cluster-bench.sh --copydesk-bin PATH [options]
#
# Options:
#   --copydesk-bin PATH  the `copydesk` binary (a release build)
#   --repeat N           runs of each scenario, each on fresh nodes and a fresh database
#                        (the table shows the median run); default 3
#   --no-save            print, don't write results/
#
# Scenarios:
#   1x      issue 8's first scenario (1 doc × 200 clients, 20 writers × 5/s, evenly staggered),
#           odd clients on node B: p99 of receipts on the writer's node and on the other node,
#           against the Redis round trip (redis-cli --latency, measured in the same window).
#   repair  the same load; 10 s in, every node's Redis subscription is cut (CLIENT KILL TYPE
#           pubsub) so the messages published until the nodes re-subscribe are lost. Every
#           update must still reach every client (drops 0); the slowest cross-node receipt is
#           the time to repair (re-subscribe + the gap-triggered or periodic state exchange).
#
# Needs: PostgreSQL at $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
# throwaway database is created and dropped), redis-server (a throwaway one is started).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COPYDESK_BIN=
REPEAT=3
SAVE=1
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
GEN=$HERE/target/release/copydesk-load
SERVER_CORE=${SERVER_CORE:-0}
GEN_CORE=${GEN_CORE:-1}
D=${CLUSTER_DURATION:-30}
WU=5

while [ $# -gt 0 ]; do
  case $1 in
    --copydesk-bin) COPYDESK_BIN=$(realpath "$2"); shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "run-cluster-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { echo "[cluster-bench] $*" >&2; }
die() { echo "run-cluster-bench.sh: $*" >&2; exit 1; }
[ -x "$COPYDESK_BIN" ] || die "--copydesk-bin is not an executable: '$COPYDESK_BIN'"
. "$HERE/bench-lib.sh"
require_lock "$0" "$@"
command -v redis-server >/dev/null || die "redis-server is not installed"
command -v psql >/dev/null || die "psql is not installed"
build_generator
wait_http() { # url seconds
  local i
  for i in $(seq $(( $2 * 10 ))); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

TMP=$(mktemp -d /tmp/copydesk-cluster-bench.XXXXXX)
PIDS=()
DB=
REDIS_PORT=
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  DB=
}
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# Fresh PostgreSQL database, Redis and two nodes; sets URL_A, URL_B, TOKEN, POSTS.
start_cluster() {
  cleanup
  DB=copydesk_bench_$RANDOM$RANDOM
  psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null || die "cannot create database $DB"
  local db_url=${PG_URL%/*}/$DB
  REDIS_PORT=$(free_port)
  taskset -c "$SERVER_CORE" redis-server --port "$REDIS_PORT" --save '' --appendonly no \
    >"$TMP/redis.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local secret key n port
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  for n in a b; do
    port=$(free_port)
    mkdir -p "$TMP/$n"
    COPYDESK__SERVER__HOST=127.0.0.1 COPYDESK__SERVER__PORT=$port COPYDESK__SERVER__WORKERS=1 \
    COPYDESK__DATABASE__URL=$db_url COPYDESK__DATABASE__DATA_DIR=$TMP/$n \
    COPYDESK__REDIS__URL=redis://127.0.0.1:$REDIS_PORT \
    COPYDESK__AUTH__JWT_SECRET=$secret COPYDESK__SECURITY__ENCRYPTION_KEY=$key \
    COPYDESK__AUTH__ACCESS_TTL_SECS=3600 COPYDESK__AUTH__EMAIL_REQUESTS_PER_IP=1000 \
    COPYDESK__COLLAB__MAX_CONNECTIONS_PER_USER=20000 COPYDESK__COLLAB__MAX_CONNECTIONS_PER_IP=20000 \
    COPYDESK__COLLAB__MAX_MESSAGES_PER_SEC=1000000 COPYDESK__STATIC__DIR=$TMP/no-static \
    COPYDESK__MAIL__OUTBOX_DIR=$TMP/mail COPYDESK__LOG__LEVEL=warn \
      taskset -c "$SERVER_CORE" "$COPYDESK_BIN" serve >>"$TMP/$n.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$port/health/ready" 60 || { cat "$TMP/$n.log" >&2; die "node $n did not start"; }
    if [ $n = a ]; then URL_A=ws://127.0.0.1:$port; PORT_A=$port; else URL_B=ws://127.0.0.1:$port; fi
  done
  api() { # method path [json]
    local auth=()
    [ -n "${TOKEN:-}" ] && auth=(-H "authorization: Bearer $TOKEN")
    curl -fsS -X "$1" "http://127.0.0.1:$PORT_A$2" -H 'content-type: application/json' \
      "${auth[@]}" ${3:+--data "$3"}
  }
  TOKEN=
  local email=bench$RANDOM@example.com password='load test passphrase 7' token= f
  api POST /api/auth/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench\"}" >/dev/null \
    || die "register failed"
  for _ in $(seq 100); do
    f=$(grep -l "$email" "$TMP"/mail/* 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then
      token=$(grep -o 'verify-email?token=[A-Za-z0-9_%-]*' "$f" | head -1 | sed 's/.*token=//')
      [ -n "$token" ] && break
    fi
    sleep 0.1
  done
  [ -n "$token" ] || die "no verification mail"
  TOKEN=$(api POST /api/auth/verify-email "{\"token\":\"$token\",\"password\":\"$password\"}" | jq -r .access_token)
  local ws
  ws=$(api POST /api/workspaces '{"name":"Cluster bench"}' | jq -r .id)
  POSTS=$(api POST "/api/workspaces/$ws/posts" '{"title":"Cluster bench"}' | jq -r .id)
  [ -n "$POSTS" ] && [ "$POSTS" != null ] || die "could not create a post"
  SERVER_PID=${PIDS[1]}
}

gen() { # label args...
  local label=$1; shift
  taskset -c "$GEN_CORE" "$GEN" --target copydesk --url "$URL_A" --url2 "$URL_B" \
    --server-pid "$SERVER_PID" --token "$TOKEN" --doc-ids "$POSTS" --label "$label" "$@"
}

redis_rtt() { # seconds -> "avg max" in ms from redis-cli --latency
  timeout "$1" taskset -c "$GEN_CORE" redis-cli -p "$REDIS_PORT" --latency --raw 2>/dev/null | tail -1 \
    | awk '{print $3, $2}'
}

run_1x() {
  start_cluster
  local rtt_file=$TMP/rtt
  ( sleep "$WU"; redis_rtt "$D" >"$rtt_file" ) &
  local rtt_pid=$!
  gen 1x-two-nodes --clients-per-doc 200 --writers 20 --rate 5 --arrival spread \
    --duration "$D" --warmup "$WU" >"$TMP/out.json"
  wait "$rtt_pid" || true
  read -r avg max <"$rtt_file" || { avg=null; max=null; }
  jq -c --argjson avg "${avg:-null}" --argjson max "${max:-null}" \
    '. + {redis_rtt_ms: {avg: $avg, max: $max}}' "$TMP/out.json"
  cleanup
}

run_repair() {
  start_cluster
  ( sleep $((WU + 10)); redis-cli -p "$REDIS_PORT" CLIENT KILL TYPE pubsub >"$TMP/killed" 2>&1 ) &
  local k=$!
  gen repair-two-nodes --clients-per-doc 200 --writers 20 --rate 5 --arrival spread \
    --duration "$D" --warmup "$WU" --drain-timeout 10 >"$TMP/out.json"
  wait "$k" || true
  jq -c --arg killed "$(cat "$TMP/killed")" '. + {pubsub_connections_killed: ($killed | tonumber? // $killed)}' "$TMP/out.json"
  cleanup
}

RESULTS=()
for i in $(seq "$REPEAT"); do
  for s in 1x repair; do
    log "run $i/$REPEAT: $s"
    RESULTS+=("$("run_$s")")
  done
done
ALL=$(printf '%s\n' "${RESULTS[@]}" | jq -sc .)
if [ "$SAVE" = 1 ]; then
  mkdir -p "$HERE/results"
  OUTF=$HERE/results/$(date -u +%Y-%m-%d)-cluster.json
  jq . <<<"$ALL" >"$OUTF"
  log "wrote $OUTF"
fi
jq -r '
  def med: sort | .[(length / 2 | floor)];
  def cell(f): [.[] | f] | med;
  (map(select(.label == "1x-two-nodes"))) as $x | (map(select(.label == "repair-two-nodes"))) as $r |
  "| two nodes (PostgreSQL + Redis), 1 doc × 200 clients split, 20 writers × 5/s | median of \($x | length) |",
  "|---|---:|",
  "| p99, all receipts, ms | \($x | cell(.latency_ms.p99)) |",
  "| p99 on the writer'"'"'s node / on the other node, ms | \($x | cell(.latency_ms.same_node.p99)) / \($x | cell(.latency_ms.other_node.p99)) |",
  "| Redis round trip (redis-cli --latency) avg / max, ms | \($x | cell(.redis_rtt_ms.avg)) / \($x | cell(.redis_rtt_ms.max)) |",
  "| bus cut (CLIENT KILL TYPE pubsub): drops / slowest receipt, ms | \($r | cell(.drops)) / \($r | cell(.latency_ms.max)) |",
  "| every run: 1x p99 other node | \([$x[] | .latency_ms.other_node.p99] | map(tostring) | join(", ")) |",
  "| every run: repair slowest receipt, drops | \([$r[] | "\(.latency_ms.max) (\(.drops))"] | join(", ")) |"
' <<<"$ALL"
