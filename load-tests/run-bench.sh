#!/usr/bin/env bash
# Benchmarks y-websocket-protocol servers with copydesk-load: a fresh server per scenario,
# pinned to core 0, the generator pinned to core 1. Writes results/<date>-<target>.json and
# prints a markdown table.
#
# Run it holding the build lock, so nobody compiles while it measures:
#   flock /tmp/copydesk-cargo.lock load-tests/run-bench.sh [options]
#
# Options:
#   --targets LIST       yws,hocuspocus,copydesk (default: yws,hocuspocus)
#   --scenarios LIST     1,1p,2,3,4,4b,5 (default: all)
#   --copydesk-bin PATH  the `copydesk` binary (a release build) for --targets copydesk
#   --repeat N           run each scenario N times, each on a fresh server (the table shows
#                        the median run); default 1
#   --quick              short durations (a smoke test, not numbers to keep)
#   --no-save            print, don't write results/
#   --out DIR            results directory (default: load-tests/results)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ANCHORS=${ANCHORS_DIR:-/tmp/anchors}
SHARED_ANCHORS=${SHARED_ANCHORS:-$(cd "$HERE/../.." && pwd)/shared/anchors}
TARGETS=yws,hocuspocus
SCENARIOS=1,1p,2,3,4,4b,5
COPYDESK_BIN=
QUICK=0
REPEAT=1
SAVE=1
OUT=$HERE/results
GEN=$HERE/target/release/copydesk-load
SERVER_CORE=${SERVER_CORE:-0}
GEN_CORE=${GEN_CORE:-1}

while [ $# -gt 0 ]; do
  case $1 in
    --targets) TARGETS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --copydesk-bin) COPYDESK_BIN=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { echo "[run-bench] $*" >&2; }
die() { echo "run-bench.sh: $*" >&2; exit 1; }

# The lock is free only if nobody (we included) holds it: then builds may run beside us.
if flock -n /tmp/copydesk-cargo.lock true 2>/dev/null && [ "${BENCH_NO_LOCK_CHECK:-0}" != 1 ]; then
  die "run me under the build lock: flock /tmp/copydesk-cargo.lock $0 $* (BENCH_NO_LOCK_CHECK=1 to skip)"
fi

# --- set-up ---------------------------------------------------------------------------
if [[ ",$TARGETS," == *,yws,* || ",$TARGETS," == *,hocuspocus,* ]]; then
  if [ ! -x "$ANCHORS/node_modules/.bin/y-websocket-server" ] || [ ! -d "$ANCHORS/node_modules/@hocuspocus/server" ]; then
    log "installing the anchor servers into $ANCHORS"
    [ -d "$ANCHORS" ] || cp -r "$SHARED_ANCHORS" "$ANCHORS"
    chmod -R u+w "$ANCHORS"
    (cd "$ANCHORS" && npm install --no-audit --no-fund >&2)
  fi
fi
# We already hold the lock (see above): build without taking it again.
log "building the generator"
(cd "$HERE" && cargo build --release --quiet) || die "generator build failed"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port seconds
  local i
  for i in $(seq $(( $2 * 10 ))); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

SERVER_PID=
PORT=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  stop_server
  [ -n "${CD_DIR:-}" ] && rm -rf "$CD_DIR"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_yws() {
  PORT=$(free_port)
  (cd "$ANCHORS" && HOST=127.0.0.1 PORT=$PORT exec taskset -c "$SERVER_CORE" node node_modules/@y/websocket-server/src/server.js) >/tmp/bench-yws.log 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT" 20 || die "y-websocket-server did not start (see /tmp/bench-yws.log)"
  URL=ws://127.0.0.1:$PORT
  EXTRA=()
}

start_hocuspocus() {
  PORT=$(free_port)
  (cd "$ANCHORS" && PORT=$PORT exec taskset -c "$SERVER_CORE" node hocuspocus-server.mjs) >/tmp/bench-hocuspocus.log 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT" 20 || die "hocuspocus did not start (see /tmp/bench-hocuspocus.log)"
  URL=ws://127.0.0.1:$PORT
  EXTRA=()
}

# --- Copydesk ---------------------------------------------------------------------------
# A fresh `copydesk serve` on a temp data dir (SQLite, mail to <data_dir>/mail), one
# verified user (an ordinary sign-up: nobody needs to be super admin), its own workspace,
# N posts; the generator gets the access JWT and buys a single-use ticket for every
# connection (POST /api/auth/ws-ticket, then /api/collab/{post_id}?ticket=…).
# CD_REUSE=1 restarts on the existing data dir (the cold-load scenario) instead of
# creating a new one.
#
# The per-socket abuse limits are raised for the run: one user on one address opens up to
# 500 sockets (defaults: 32 per user, 256 per address) and a saturating writer sends far
# more than the default 200 messages/s. COPYDESK_MAX_MSGS_PER_SEC overrides the latter.
CD_DIR=
CD_TOKEN=
CD_POSTS=
copydesk_serve() {
  [ -x "$COPYDESK_BIN" ] || die "--copydesk-bin is not an executable: '$COPYDESK_BIN'"
  PORT=$(free_port)
  COPYDESK__SERVER__HOST=127.0.0.1 \
  COPYDESK__SERVER__PORT=$PORT \
  COPYDESK__SERVER__WORKERS=${COPYDESK_WORKERS:-1} \
  COPYDESK__DATABASE__DATA_DIR=$CD_DIR \
  COPYDESK__AUTH__ACCESS_TTL_SECS=3600 \
  COPYDESK__AUTH__EMAIL_REQUESTS_PER_IP=1000 \
  COPYDESK__COLLAB__MAX_CONNECTIONS_PER_USER=2000 \
  COPYDESK__COLLAB__MAX_CONNECTIONS_PER_IP=2000 \
  COPYDESK__COLLAB__MAX_MESSAGES_PER_SEC=${COPYDESK_MAX_MSGS_PER_SEC:-1000000} \
  COPYDESK__STATIC__DIR=$CD_DIR/no-static \
  COPYDESK__LOG__LEVEL=${COPYDESK_LOG_LEVEL:-warn} \
    taskset -c "$SERVER_CORE" "$COPYDESK_BIN" serve >>"$CD_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT" 60 || { cat "$CD_DIR/server.log" >&2; die "copydesk did not start"; }
  local i
  for i in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  URL=ws://127.0.0.1:$PORT
}

api() { # method path [json] -> body on stdout; fails on HTTP >= 400
  local auth=()
  [ -n "$CD_TOKEN" ] && auth=(-H "authorization: Bearer $CD_TOKEN")
  curl -fsS -X "$1" "http://127.0.0.1:$PORT$2" -H 'content-type: application/json' \
    "${auth[@]}" ${3:+--data "$3"}
}

start_copydesk() { # ndocs
  local ndocs=${1:-1}
  if [ "${CD_REUSE:-0}" = 1 ]; then copydesk_serve; EXTRA=(--token "$CD_TOKEN" --doc-ids "$CD_POSTS"); return; fi
  [ -n "$CD_DIR" ] && rm -rf "$CD_DIR"
  CD_DIR=$(mktemp -d /tmp/copydesk-bench.XXXXXX)
  CD_TOKEN=
  copydesk_serve
  local email=bench@example.com password='load test passphrase 7'
  # A plain sign-up; the account then creates a workspace of its own (it becomes its owner),
  # so neither the super admin (set up separately now) nor invitations are involved.
  api POST /api/auth/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench\"}" >/dev/null \
    || die "register failed"
  local token= i f
  for i in $(seq 100); do
    f=$(ls -t "$CD_DIR/mail" 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then
      token=$(grep -o 'verify-email?token=[A-Za-z0-9_%-]*' "$CD_DIR/mail/$f" | head -1 | sed 's/.*token=//')
      [ -n "$token" ] && break
    fi
    sleep 0.1
  done
  [ -n "$token" ] || die "no verification mail in $CD_DIR/mail"
  # Confirming takes the password chosen at sign-up along with the emailed token.
  CD_TOKEN=$(api POST /api/auth/verify-email "{\"token\":\"$token\",\"password\":\"$password\"}" | jq -r .access_token)
  [ -n "$CD_TOKEN" ] && [ "$CD_TOKEN" != null ] || die "verify-email gave no access_token"
  local ws
  ws=$(api POST /api/workspaces '{"name":"Load test"}' | jq -r .id)
  [ -n "$ws" ] && [ "$ws" != null ] || die "could not create a workspace"
  local ids=()
  for i in $(seq "$ndocs"); do
    ids+=("$(api POST "/api/workspaces/$ws/posts" "{\"title\":\"Load test $i\"}" | jq -r .id)")
  done
  CD_POSTS=$(IFS=,; echo "${ids[*]}")
  [[ "$CD_POSTS" != *null* ]] || die "could not create posts"
  EXTRA=(--token "$CD_TOKEN" --doc-ids "$CD_POSTS")
}

# --- scenarios --------------------------------------------------------------------------
if [ "$QUICK" = 1 ]; then D1=5; D2=5; WU=2; IDLE_N=100; else D1=30; D2=20; WU=5; IDLE_N=500; fi
MB=1048576

gen() { # label args... -> one JSON line on stdout
  local label=$1; shift
  taskset -c "$GEN_CORE" "$GEN" --target "$TARGET" --url "$URL" --server-pid "$SERVER_PID" \
    --label "$label" "${EXTRA[@]}" "$@"
}

machine_busy() { # CPU used by everything over one second, in % of one core
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
    print int((y[1] - x[1]) / (y[2] - x[2] + 1e-9) * 100 * n) }'
}

# Others share this machine: wait (bounded) until nobody else is using much CPU, so a test
# run or a build that ignored the lock does not end up in the numbers. Each result also
# records machine.others_pct, measured during its window.
wait_quiet() {
  local i busy=0
  for i in $(seq 60); do
    busy=$(machine_busy)
    [ "$busy" -le "${QUIET_PCT:-15}" ] && return 0
    [ "$i" = 1 ] && log "machine busy ($busy% of a core used by others); waiting up to 60 s"
  done
  log "WARNING: still busy ($busy%); measuring anyway (see machine.others_pct)"
}

run_scenario() { # id -> JSON line(s) on stdout
  local id=$1
  wait_quiet
  case $id in
    1) "start_$TARGET" 1   # writers evenly staggered: no two updates collide (best case)
       gen 1-latency --clients-per-doc 200 --writers 20 --rate 5 --arrival spread --duration "$D1" --warmup "$WU" ;;
    1p) "start_$TARGET" 1  # the same rate with independent (Poisson) writers: bursts queue
       gen 1p-latency-poisson --clients-per-doc 200 --writers 20 --rate 5 --arrival poisson --duration "$D1" --warmup "$WU" ;;
    2) "start_$TARGET" 1
       gen 2-saturate --clients-per-doc 50 --writers 10 --saturate --duration "$D2" --warmup "$WU" ;;
    3) "start_$TARGET" 1
       gen 3-idle-memory --clients-per-doc "$IDLE_N" --writers 0 --idle --idle-settle 5 ;;
    4) "start_$TARGET" 1
       gen 4-saturate-1mb --clients-per-doc 10 --writers 10 --saturate --doc-size $MB --duration "$D2" --warmup "$WU" ;;
    4b) "start_$TARGET" 1
       gen 4b-saturate-empty --clients-per-doc 10 --writers 10 --saturate --duration "$D2" --warmup "$WU" ;;
    5) "start_$TARGET" 1
       if [ "$TARGET" = copydesk ]; then
         # Fill, restart the server on the same data, and time fresh syncs: the first one
         # loads the document from storage (cold), the others find it in memory (warm).
         gen 5-prefill --clients-per-doc 1 --writers 0 --doc-size $MB --prefill-only >/dev/null
         sleep 2
         stop_server
         CD_REUSE=1 start_copydesk 1
         gen 5-cold-load-1mb --clients-per-doc 0 --writers 0 --sync-probes 5
       else
         # The anchors keep documents in memory only: no cold load exists. Time fresh
         # syncs of a 1 MB document on a warm server instead.
         gen 5-warm-sync-1mb --clients-per-doc 1 --writers 0 --doc-size $MB --prefill-only --sync-probes 5
       fi ;;
    *) die "unknown scenario $id" ;;
  esac
  stop_server
}

host_info() {
  jq -n --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg nproc "$(nproc)" \
    --arg kernel "$(uname -r)" --arg node "$(node --version 2>/dev/null || echo none)" \
    --arg cc "$(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)" \
    '{cpu: $cpu, nproc: ($nproc|tonumber), kernel: $kernel, node: $node, tcp_congestion_control: $cc,
      server_core: '"$SERVER_CORE"', generator_core: '"$GEN_CORE"'}'
}

DATE=$(date -u +%Y-%m-%d)
mkdir -p "$OUT"
FILES=()
IFS=, read -r -a target_list <<<"$TARGETS"
IFS=, read -r -a scenario_list <<<"$SCENARIOS"
for TARGET in "${target_list[@]}"; do
  case $TARGET in
    yws|hocuspocus) ;;
    copydesk) [ -n "$COPYDESK_BIN" ] || die "--targets copydesk needs --copydesk-bin" ;;
    *) die "unknown target $TARGET" ;;
  esac
  # Each result line lands here as soon as it is measured, so an interrupted run keeps them.
  lines=$OUT/.partial-$DATE-$TARGET.jsonl
  : >"$lines"
  for s in "${scenario_list[@]}"; do
    for r in $(seq "$REPEAT"); do
      log "$TARGET: scenario $s (run $r of $REPEAT)"
      if ! run_scenario "$s" >>"$lines"; then
        log "$TARGET: scenario $s failed"
        stop_server
      fi
    done
  done
  if [ "$SAVE" = 1 ]; then
    f=$OUT/$DATE-$TARGET.json
    n=2; while [ -e "$f" ]; do f=$OUT/$DATE-$TARGET-$n.json; n=$((n + 1)); done
  else
    f=$(mktemp /tmp/bench-$TARGET.XXXXXX.json)
  fi
  jq -s --arg target "$TARGET" --arg date "$(date -u +%FT%TZ)" --argjson host "$(host_info)" --argjson quick "$QUICK" \
    '{target: $target, date: $date, quick: ($quick == 1), repeat: '"$REPEAT"', host: $host, scenarios: .}' "$lines" >"$f"
  rm -f "$lines"
  [ -n "$CD_DIR" ] && { rm -rf "$CD_DIR"; CD_DIR=; }
  log "wrote $f"
  FILES+=("$f")
done

python3 "$HERE/table.py" "${FILES[@]}"
