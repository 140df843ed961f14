# shellcheck shell=bash
#
# Throwaway PostgreSQL and Redis servers for scripts/test.
#
# Source this file, then:
#
#   svc_init                 # once: creates the temp dir ($SVC_TMP)
#   svc_pg_start             # sets SVC_PG_PORT and SVC_PG_URL
#   svc_redis_start          # sets SVC_REDIS_PORT and SVC_REDIS_URL
#   svc_cleanup              # stops everything started here and removes $SVC_TMP
#
# Functions return non-zero on failure (they never `exit`), so callers can run
# them under `if`.  svc_cleanup is idempotent and safe to call from a trap at
# any point, including half-way through a start.
#
# Nothing here touches the system PostgreSQL (5432) or Redis (6379): servers
# listen only on 127.0.0.1 on a free port, keep all their files in $SVC_TMP and
# PostgreSQL's unix socket lives in $SVC_TMP too.

SVC_TMP=""
SVC_PG_DATA=""
SVC_PG_PORT=""
SVC_PG_URL=""
SVC_PG_BIN=""
SVC_PG_USER=""        # OS user that owns the cluster ("" = current user)
SVC_PG_STARTED=0
SVC_FG_PID=""         # initdb/pg_ctl currently running
SVC_REDIS_PID=""
SVC_REDIS_PORT=""
SVC_REDIS_URL=""

svc_log() { printf '[services] %s\n' "$*" >&2; }

# svc_init: create the temp dir that holds every server's files.
svc_init() {
  [[ -n "$SVC_TMP" && -d "$SVC_TMP" ]] && return 0
  SVC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/copydesk-test.XXXXXXXX") || return 1
}

# svc_free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
svc_free_port() {
  local port
  if command -v python3 >/dev/null 2>&1 &&
    port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && [[ "$port" =~ ^[0-9]+$ ]]; then
    echo "$port"
    return 0
  fi
  # Fallback without python: probe random high ports with bash's /dev/tcp;
  # "connection refused" means nobody is listening there.
  local _
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  svc_log "could not find a free TCP port"
  return 1
}

# svc_find_pg_bin: directory with initdb/pg_ctl/postgres (PATH first, then the
# newest /usr/lib/postgresql/*/bin).
svc_find_pg_bin() {
  [[ -n "$SVC_PG_BIN" ]] && return 0
  local p d
  if p=$(command -v pg_ctl 2>/dev/null); then
    d=$(dirname "$(readlink -f "$p")")
    if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
      SVC_PG_BIN=$d
      return 0
    fi
  fi
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then
      SVC_PG_BIN=$d
      return 0
    fi
  done
  svc_log "PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' package"
  return 1
}

# svc_as_pg_user LOGFILE CMD...: run CMD as the cluster's OS user (initdb and
# pg_ctl refuse to run as root), output to LOGFILE.  cd into $SVC_TMP first:
# that user may not be able to read our cwd.
# The redirection is done inside the subshell on purpose: a signal trap that
# fires while a *function* call with `>file` runs would write into that file.
# It runs in the background + `wait` so that a caller's INT/TERM trap fires
# immediately (bash defers traps while a foreground child runs, and skips the
# INT trap entirely when the child, like initdb, handles SIGINT itself).
svc_as_pg_user() {
  local log=$1 rc=0
  shift
  local as=()
  [[ -n "$SVC_PG_USER" ]] && as=(runuser -u "$SVC_PG_USER" --)
  (trap - INT QUIT TERM HUP && cd "$SVC_TMP" && exec "${as[@]}" "$@" >"$log" 2>&1) &
  SVC_FG_PID=$!
  wait "$SVC_FG_PID" || rc=$?
  SVC_FG_PID=""
  return "$rc"
}

# svc_pg_start: initdb + start a throwaway cluster on a free port.
svc_pg_start() {
  svc_init || return 1
  svc_find_pg_bin || return 1

  SVC_PG_USER=""
  if [[ $(id -u) -eq 0 ]]; then
    if id -u postgres >/dev/null 2>&1; then
      SVC_PG_USER=postgres
    elif id -u nobody >/dev/null 2>&1; then
      SVC_PG_USER=nobody
    else
      svc_log "running as root but neither a 'postgres' nor a 'nobody' user exists to run initdb"
      return 1
    fi
    if ! command -v runuser >/dev/null 2>&1; then
      svc_log "running as root and 'runuser' (util-linux) is missing"
      return 1
    fi
  fi

  local pgdir="$SVC_TMP/pg"
  SVC_PG_DATA="$pgdir/data"
  mkdir -p "$pgdir/sock" || return 1
  if [[ -n "$SVC_PG_USER" ]]; then
    # The temp dir itself must be traversable by that user.
    chmod 755 "$SVC_TMP" && chown -R "$SVC_PG_USER" "$pgdir" || return 1
  fi

  svc_log "initdb ($SVC_PG_BIN, as ${SVC_PG_USER:-$(id -un)}) in $SVC_PG_DATA"
  if ! svc_as_pg_user "$pgdir/initdb.log" "$SVC_PG_BIN/initdb" -D "$SVC_PG_DATA" \
    -U postgres --auth=trust -E UTF8 --locale=C --no-sync; then
    svc_log "initdb failed:"
    cat "$pgdir/initdb.log" >&2
    return 1
  fi

  # A port found free can be taken before postgres binds it; retry a few times.
  local attempt opts
  for attempt in 1 2 3; do
    SVC_PG_PORT=$(svc_free_port) || return 1
    # pg_ctl hands -o to /bin/sh, hence the quotes around the socket dir.
    opts="-p $SVC_PG_PORT -c listen_addresses=127.0.0.1 -k '$pgdir/sock'"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    # posix DSM lives in /dev/shm, which is tiny in many CI containers.
    opts+=" -c dynamic_shared_memory_type=mmap"
    # SVC_PG_STARTED=1 before pg_ctl: if we are interrupted while it waits,
    # the cleanup must still try to stop the half-started server.
    SVC_PG_STARTED=1
    if svc_as_pg_user "$pgdir/pg_ctl.log" "$SVC_PG_BIN/pg_ctl" -D "$SVC_PG_DATA" \
      -l "$pgdir/server.log" -w -t 60 -o "$opts" start; then
      break
    fi
    svc_pg_stop
    if ((attempt == 3)) || ! grep -qi 'could not bind\|address already in use' "$pgdir/server.log" 2>/dev/null; then
      svc_log "PostgreSQL failed to start:"
      cat "$pgdir/pg_ctl.log" "$pgdir/server.log" >&2 2>/dev/null
      return 1
    fi
    svc_log "port $SVC_PG_PORT was taken, retrying"
    rm -f "$pgdir/server.log"
  done

  # pg_ctl -w already waited; double-check over TCP, the way the tests connect.
  local isready="$SVC_PG_BIN/pg_isready" i
  [[ -x "$isready" ]] || isready=$(command -v pg_isready 2>/dev/null || true)
  if [[ -n "$isready" ]]; then
    for i in $(seq 1 100); do
      "$isready" -q -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres -d postgres && break
      if ((i == 100)); then
        svc_log "PostgreSQL on 127.0.0.1:$SVC_PG_PORT not ready after 20s"
        cat "$pgdir/server.log" >&2
        return 1
      fi
      sleep 0.2
    done
  fi

  SVC_PG_URL="postgres://postgres@127.0.0.1:$SVC_PG_PORT/postgres"
  svc_log "PostgreSQL ready: $SVC_PG_URL"
}

# svc_pg_stop: immediate shutdown; falls back to signalling the postmaster.
svc_pg_stop() {
  ((SVC_PG_STARTED)) || return 0
  SVC_PG_STARTED=0
  [[ -n "$SVC_PG_DATA" && -d "$SVC_PG_DATA" ]] || return 0
  local pidfile="$SVC_PG_DATA/postmaster.pid" pid="" i
  [[ -f "$pidfile" ]] && pid=$(head -n1 "$pidfile" 2>/dev/null || true)
  svc_as_pg_user /dev/null "$SVC_PG_BIN/pg_ctl" -D "$SVC_PG_DATA" -m immediate -w -t 20 stop || true
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -QUIT "$pid" 2>/dev/null || true   # SIGQUIT = immediate shutdown
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
      ((i == 50)) && kill -KILL "$pid" 2>/dev/null
    done
  fi
  return 0
}

# svc_redis_ping PORT: succeed if a Redis on 127.0.0.1:PORT answers PONG.
svc_redis_ping() {
  local port=$1 reply=""
  if command -v redis-cli >/dev/null 2>&1; then
    reply=$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)
  else
    reply=$(
      exec 2>/dev/null
      exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
      printf 'PING\r\n' >&3
      IFS= read -r -t 2 line <&3 || true
      printf '%s' "$line"
    ) || true
  fi
  [[ "$reply" == *PONG* ]]
}

# svc_redis_start: redis-server in the background on a free port, no persistence.
svc_redis_start() {
  svc_init || return 1
  local bin
  if ! bin=$(command -v redis-server 2>/dev/null); then
    svc_log "redis-server not found; install the 'redis-server' package"
    return 1
  fi
  local rdir="$SVC_TMP/redis" attempt i
  mkdir -p "$rdir" || return 1
  for attempt in 1 2 3; do
    SVC_REDIS_PORT=$(svc_free_port) || return 1
    "$bin" --port "$SVC_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize no --dir "$rdir" </dev/null >"$rdir/redis.log" 2>&1 &
    SVC_REDIS_PID=$!
    for i in $(seq 1 100); do
      # Check the log too: if our redis lost the port race, a PING could be
      # answered by whoever owns the port.
      if kill -0 "$SVC_REDIS_PID" 2>/dev/null &&
        grep -q 'Ready to accept connections' "$rdir/redis.log" 2>/dev/null &&
        svc_redis_ping "$SVC_REDIS_PORT"; then
        SVC_REDIS_URL="redis://127.0.0.1:$SVC_REDIS_PORT"
        svc_log "Redis ready: $SVC_REDIS_URL"
        return 0
      fi
      kill -0 "$SVC_REDIS_PID" 2>/dev/null || break   # died (port taken?)
      sleep 0.1
    done
    svc_redis_stop
    svc_log "Redis failed to start on port $SVC_REDIS_PORT (attempt $attempt):"
    tail -n 5 "$rdir/redis.log" >&2 2>/dev/null
  done
  return 1
}

svc_redis_stop() {
  [[ -n "$SVC_REDIS_PID" ]] || return 0
  local pid=$SVC_REDIS_PID i
  SVC_REDIS_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    ((i == 50)) && kill -KILL "$pid" 2>/dev/null
  done
  wait "$pid" || true
  return 0
}

# svc_cleanup: stop everything and delete the temp dir. Idempotent.
svc_cleanup() {
  if [[ -n "$SVC_FG_PID" ]]; then
    kill -TERM "$SVC_FG_PID" 2>/dev/null || true
    wait "$SVC_FG_PID" || true
    SVC_FG_PID=""
  fi
  svc_redis_stop
  svc_pg_stop
  if [[ -n "$SVC_TMP" && -d "$SVC_TMP" ]]; then
    rm -rf -- "$SVC_TMP"
  fi
  SVC_TMP=""
  return 0
}
