# Shared by run-bench.sh and run-cluster-bench.sh (sourced; expects log and die).

# Refuses to run unless the caller holds the build lock (nobody compiles while we measure).
require_lock() { # script args...
  if flock -n /tmp/copydesk-cargo.lock true 2>/dev/null && [ "${BENCH_NO_LOCK_CHECK:-0}" != 1 ]; then
    die "run me under the build lock: flock /tmp/copydesk-cargo.lock $* (BENCH_NO_LOCK_CHECK=1 to skip)"
  fi
}

# Builds the generator; we already hold the lock, so without taking it again.
build_generator() {
  log "building the generator"
  (cd "$HERE" && cargo build --release --quiet) || die "generator build failed"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
