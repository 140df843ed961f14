#!/usr/bin/env bash
# Benchmarks Copydesk's durable jobs and outbox consumer on a throwaway PostgreSQL:
#   - jobs/s claimed and completed by 1 and 2 nodes of JobRunner (SqlJobQueue, FOR UPDATE
#     SKIP LOCKED), at several concurrency settings, with exactly-once checks;
#   - the same claim/complete SQL run bare by pgbench with 1 and 2 clients (the ratio);
#   - outbox consumer lag (commit → handler) under a steady write rate, with exactly-once
#     and order checks.
# PostgreSQL runs pinned to core 0, the benchmark (and pgbench) to core 1; every
# configuration runs --repeat times (interleaved), the summary shows the median run.
# Writes results/<date>-jobs.json and prints a markdown table.
#
# Run it holding the build lock, so nobody compiles while it measures:
#   flock /tmp/copydesk-cargo.lock load-tests/run-jobs-bench.sh [options]
#
# Options:
#   --jobs N             jobs per run (default 50000)
#   --repeat N           runs of every configuration (default 3)
#   --nodes LIST         Copydesk nodes (default 1,2)
#   --concurrency LIST   jobs per node at once, `jobs.concurrency` (default 8,32)
#   --clients LIST       pgbench clients (default 1,2,8)
#   --rate R             outbox events per second (default 1000)
#   --duration S         outbox seconds of writing (default 30)
#   --no-claim-index     measure the schema before migration 000013: drop the claim's partial
#                        index (see jobs-bench --help) before every jobs/pgbench run
#   --outbox-poll        also measure the outbox with no wake-up after commit (the consumer
#                        only polls, every second: a node the bus does not reach)
#   --skip-jobs / --skip-outbox / --skip-pgbench
#   --quick              5000 jobs, 1 run, 10 s of outbox (a smoke test, not numbers to keep)
#   --no-save            print, don't write results/
#   --out DIR            results directory (default: load-tests/results)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOBS=50000
REPEAT=3
NODES=1,2
CONCURRENCY=8,32
CLIENTS=1,2,8
RATE=1000
DURATION=30
DO_JOBS=1
DO_OUTBOX=1
DO_PGBENCH=1
OUTBOX_POLL=0
IDX=()
SUFFIX=
QUICK=0
SAVE=1
OUT=$HERE/results
SERVER_CORE=${SERVER_CORE:-0}
GEN_CORE=${GEN_CORE:-1}
BIN=$HERE/target/release/jobs-bench

while [ $# -gt 0 ]; do
  case $1 in
    --jobs) JOBS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --no-claim-index) IDX=(--no-claim-index); SUFFIX=-noidx; shift ;;
    --claim-index) shift ;; # the schema's default since migration 000013
    --outbox-poll) OUTBOX_POLL=1; shift ;;
    --skip-jobs) DO_JOBS=0; shift ;;
    --skip-outbox) DO_OUTBOX=0; shift ;;
    --skip-pgbench) DO_PGBENCH=0; shift ;;
    --quick) QUICK=1; JOBS=5000; REPEAT=1; DURATION=10; shift ;;
    --no-save) SAVE=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run-jobs-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { echo "[run-jobs-bench] $*" >&2; }
die() { echo "run-jobs-bench.sh: $*" >&2; exit 1; }

# The lock is free only if nobody (we included) holds it: then builds may run beside us.
if flock -n /tmp/copydesk-cargo.lock true 2>/dev/null && [ "${BENCH_NO_LOCK_CHECK:-0}" != 1 ]; then
  die "run me under the build lock: flock /tmp/copydesk-cargo.lock $0 $* (BENCH_NO_LOCK_CHECK=1 to skip)"
fi

# We already hold the lock: build without taking it again. The first build compiles the
# server crate in release mode (~10 min on two cores).
log "building jobs-bench"
(cd "$HERE" && cargo build --release --quiet --features jobs --bin jobs-bench) || die "build failed"

# shellcheck source=../scripts/lib/services.sh
. "$HERE/../scripts/lib/services.sh"
LINES=
cleanup() {
  svc_cleanup 2>/dev/null || true
  [ -n "$LINES" ] && [ "$SAVE" = 0 ] && rm -f "$LINES"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway cluster exactly as the test suite starts one (scripts/lib/services.sh: a temp
# dir, a free port, fsync=off, synchronous_commit=off, full_page_writes=off).
svc_pg_start || die "PostgreSQL did not start"
PG_PID=$(head -n1 "$SVC_PG_DATA/postmaster.pid")
# Pin the postmaster and its running children to the server core; backends forked later
# inherit the postmaster's affinity.
for p in "$PG_PID" $(pgrep -P "$PG_PID"); do taskset -a -p -c "$SERVER_CORE" "$p" >/dev/null; done
PGBENCH=$SVC_PG_BIN/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "pgbench not found"
PG_VERSION=$("$SVC_PG_BIN/postgres" --version)
log "$PG_VERSION on $SVC_PG_URL (pid $PG_PID, core $SERVER_CORE); benchmark on core $GEN_CORE"

bench() { taskset -c "$GEN_CORE" "$BIN" --url "$SVC_PG_URL" --pg-pid "$PG_PID" "$@"; }

machine_busy() { # CPU used by everything over one second, in % of one core
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
    print int((y[1] - x[1]) / (y[2] - x[2] + 1e-9) * 100 * n) }'
}

# Others share this machine: wait (bounded) until nobody else is using much CPU. Each
# result also records cpu.others_pct, measured during its run.
wait_quiet() {
  local i busy=0
  for i in $(seq 60); do
    busy=$(machine_busy)
    [ "$busy" -le "${QUIET_PCT:-15}" ] && return 0
    [ "$i" = 1 ] && log "machine busy ($busy% of a core used by others); waiting up to 60 s"
  done
  log "WARNING: still busy ($busy%); measuring anyway (see cpu.others_pct)"
}

DATE=$(date -u +%Y-%m-%d)
mkdir -p "$OUT"
LINES=$OUT/.partial-$DATE-jobs.jsonl
: >"$LINES"
IFS=, read -r -a node_list <<<"$NODES"
IFS=, read -r -a conc_list <<<"$CONCURRENCY"
IFS=, read -r -a client_list <<<"$CLIENTS"

run() { # description, then the bench arguments; a failed run is logged, not fatal
  local what=$1; shift
  wait_quiet
  log "$what"
  bench "$@" >>"$LINES" || log "FAILED: $what"
}

for r in $(seq "$REPEAT"); do
  if [ "$DO_JOBS" = 1 ]; then
    for c in "${conc_list[@]}"; do
      for n in "${node_list[@]}"; do
        run "run $r/$REPEAT: Copydesk${SUFFIX:+ (claim index)}, $n node(s), concurrency $c, $JOBS jobs" \
          --label "copydesk-n$n-c$c$SUFFIX" "${IDX[@]}" jobs --jobs "$JOBS" --nodes "$n" --concurrency "$c"
      done
    done
  fi
  if [ "$DO_PGBENCH" = 1 ]; then
    for c in "${client_list[@]}"; do
      run "run $r/$REPEAT: pgbench${SUFFIX:+ (claim index)}, $c client(s), $JOBS jobs" \
        --label "pgbench-c$c$SUFFIX" "${IDX[@]}" pgbench --jobs "$JOBS" --clients "$c" --pgbench "$PGBENCH"
    done
  fi
  if [ "$DO_OUTBOX" = 1 ]; then
    run "run $r/$REPEAT: outbox, $RATE events/s for $DURATION s" \
      --label "outbox-$RATE" outbox --rate "$RATE" --duration "$DURATION"
    if [ "$OUTBOX_POLL" = 1 ]; then
      run "run $r/$REPEAT: outbox, $RATE events/s for $DURATION s, no wake-up (poll only)" \
        --label "outbox-$RATE-poll" outbox --rate "$RATE" --duration "$DURATION" --no-wake
    fi
  fi
done

# What was measured: the server crate as it is in the work tree (uncommitted changes too).
commit=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$HERE/.." status --porcelain -- src actors migrations Cargo.toml 2>/dev/null | wc -l)
host=$(jq -n --arg commit "$commit" --arg dirty "$dirty" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg nproc "$(nproc)" \
  --arg kernel "$(uname -r)" --arg pg "$PG_VERSION" --arg pgbench "$("$PGBENCH" --version)" \
  '{cpu: $cpu, nproc: ($nproc|tonumber), kernel: $kernel, postgres: $pg, pgbench: $pgbench,
    postgres_settings: "fsync=off synchronous_commit=off full_page_writes=off (scripts/lib/services.sh)",
    postgres_core: '"$SERVER_CORE"', bench_core: '"$GEN_CORE"',
    server_commit: $commit, server_tree_dirty: ($dirty|tonumber)}')
if [ "$SAVE" = 1 ]; then
  f=$OUT/$DATE-jobs.json
  n=2; while [ -e "$f" ]; do f=$OUT/$DATE-jobs-$n.json; n=$((n + 1)); done
else
  f=$(mktemp /tmp/bench-jobs.XXXXXX.json)
fi
jq -s --arg date "$(date -u +%FT%TZ)" --argjson host "$host" --argjson quick "$QUICK" \
  --argjson repeat "$REPEAT" --argjson jobs "$JOBS" \
  '{bench: "jobs-outbox", date: $date, quick: ($quick == 1), repeat: $repeat, jobs: $jobs, host: $host, runs: .}' \
  "$LINES" >"$f"
rm -f "$LINES"
LINES=
log "wrote $f"
python3 "$HERE/jobs_table.py" "$f"
