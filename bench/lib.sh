# Shared by the benchmark scripts (sourced, not run): process bookkeeping, logging, pinning
# and waiting for a server to answer.

# BENCH_PIN=1 pins the server to CPU 0 and the load tool to CPU 1.
SERVER_CPU=()
LOAD_CPU=()
if [[ ${BENCH_PIN:-0} == 1 ]]; then
  SERVER_CPU=(taskset -c 0)
  LOAD_CPU=(taskset -c 1)
fi

# Every background process started is recorded here and stopped on exit.
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Drops a process from the list (it ended, or was killed on purpose).
forget_pid() {
  local pid=$1 keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# Waits until URL answers 2xx (every 0.5 s, TRIES times).
wait_http() {
  local url=$1 tries=${2:-120}
  for ((i = 0; i < tries; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  return 1
}
