#!/usr/bin/env bash
# Login storm and memory (issue 13; results in BENCHMARKS.md). For each backend, against a
# release build with the demo courses: a learner reads a lesson page 20 times a second for the
# whole run; after 30 s of that, 50 people a second log in for 60 s (a full argon2 each), then
# 90 s more of reading. Page p50/p99 before, during and after; login p99 and errors; the
# server's RSS before (idle), its peak and at the end.
#
#   bash bench/login.sh
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_LOGINS_PER_SEC=50 BENCH_PAGES_PER_SEC=20
#   BENCH_QUIET=30 BENCH_STORM=60 BENCH_AFTER=90   seconds of each phase
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   PostgreSQL server (database aula_login is dropped and recreated)
#   BENCH_PIN=1                        pin the server to CPU 0 and the load generator to CPU 1
#   BENCH_SKIP_BUILD=1                 reuse the release binaries already built
#   BENCH_OUT=bench/out/login          where logs and results go
#
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
BIN=$CARGO_TARGET_DIR/release
OUT=${BENCH_OUT:-$ROOT/bench/out/login}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
LOGINS=${BENCH_LOGINS_PER_SEC:-50}
PAGES=${BENCH_PAGES_PER_SEC:-20}
QUIET=${BENCH_QUIET:-30}
STORM=${BENCH_STORM:-60}
AFTER=${BENCH_AFTER:-90}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=18092
AULA=http://127.0.0.1:$PORT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando en release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --release --example loginstorm --example loadgen --bin aula)
fi
for b in "$BIN/aula" "$BIN/examples/loginstorm" "$BIN/examples/loadgen"; do
  [[ -x $b ]] || die "no está $b"
done

rm -rf "$OUT"
mkdir -p "$OUT"
accounts=$((LOGINS * STORM + 100))

for backend in $BACKENDS; do
  dir=$OUT/$backend
  mkdir -p "$dir/data" "$dir/seed"
  db_env=(env -u DATABASE_URL -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN)
  db_args=()
  case $backend in
    sqlite) db_args=(--sqlite "$dir/data/aula.db") ;;
    postgres)
      pg_isready -q -d "$PG/postgres" 2>/dev/null || die "PostgreSQL no responde en $PG"
      psql -q -v ON_ERROR_STOP=1 -d "$PG/postgres" \
        -c "DROP DATABASE IF EXISTS aula_login WITH (FORCE)" -c "CREATE DATABASE aula_login" >/dev/null
      db_env=(env -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN DATABASE_URL="$PG/aula_login")
      ;;
    *) die "backend desconocido: $backend" ;;
  esac
  log "$backend: arrancando aula serve en $AULA (cursos de demostración)"
  # Every login comes from 127.0.0.1: the per-address limit (30 per 15 min by default) would
  # refuse the storm before any password is hashed, and hashing is what is measured.
  (cd "$ROOT" && exec "${db_env[@]}" RUST_LOG="warn" AULA_LIMIT_LOGIN_PER_ADDRESS=1000000 "${SERVER_CPU[@]}" "$BIN/aula" \
    --data-dir "$dir/data" serve --listen "127.0.0.1:$PORT") >>"$dir/aula.log" 2>&1 &
  aula_pid=$!
  PIDS+=("$aula_pid")
  wait_http "$AULA/readyz" 120 || die "aula no quedó lista (ver $dir/aula.log)"
  log "$backend: un lector inscripto y $accounts cuentas para ingresar"
  "${db_env[@]}" "$BIN/examples/loadgen" seed "${db_args[@]}" --learners 10 --out "$dir/seed" >&2
  # shellcheck disable=SC1091
  . "$dir/seed/seed.env"
  "${db_env[@]}" "$BIN/examples/loginstorm" seed "${db_args[@]}" --accounts "$accounts" --out "$dir/seed" >&2
  # Idle: give the server a moment after seeding (the seed's own hash ran in the tool).
  sleep 5
  log "$backend: $PAGES páginas/s; $QUIET s tranquilos, $STORM s con $LOGINS ingresos/s, $AFTER s después"
  "${LOAD_CPU[@]}" "$BIN/examples/loginstorm" run --base "$AULA" --seed-dir "$dir/seed" --pid "$aula_pid" \
    --reader-cookie "$READER_COOKIE" --page "/cursos/$SLUG/lecciones/$LESSON" \
    --pages-per-sec "$PAGES" --logins-per-sec "$LOGINS" \
    --quiet "$QUIET" --storm "$STORM" --after "$AFTER" | tee "$dir/run.txt" >&2
  stop_pid "$aula_pid"
  if [[ $backend == postgres ]]; then
    psql -q -d "$PG/postgres" -c "DROP DATABASE IF EXISTS aula_login WITH (FORCE)" >/dev/null || true
  fi
done

log "resultados"
for backend in $BACKENDS; do
  printf '%s\t%s\n' "$backend" "$(grep '^LOGINSTORM ' "$OUT/$backend/run.txt" || echo 'sin resultado')"
done
