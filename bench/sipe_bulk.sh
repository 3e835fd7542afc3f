#!/usr/bin/env bash
# SIPE's bulk load (issue 11; results in BENCHMARKS.md by hand): for each backend, against a
# release build with the demo data, N people (350,000 by default, valid CUILs) posted to
# POST /api/v1/personas/lote in batches of 5000, the total time measured (target: under
# 5 minutes); then the operator's search by DNI prefix, by surname and by a first name with a
# DNI prefix (a rare match) at that size (target: p99 under 50 ms). On PostgreSQL the searches
# run again after an ANALYZE (as autovacuum would have done; the bench machine's is off).
#
#   bash bench/sipe_bulk.sh
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_PEOPLE=350000 BENCH_BATCH=5000 BENCH_SEARCHES=200
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   PostgreSQL server (database aula_sipe is dropped and recreated)
#   BENCH_PIN=1                        pin the server to CPU 0 and the load generator to CPU 1
#   BENCH_SKIP_BUILD=1                 reuse the binaries already built
#   BENCH_PROFILE=release              or "debug" for a quick check with a small BENCH_PEOPLE
#   BENCH_OUT=bench/out/sipe_bulk      where logs and results go
#
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${BENCH_PROFILE:-release}
if [[ $PROFILE == release ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
  BIN=$CARGO_TARGET_DIR/release
  BUILD_FLAGS=(--release)
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  BIN=$CARGO_TARGET_DIR/debug
  BUILD_FLAGS=()
fi
OUT=${BENCH_OUT:-$ROOT/bench/out/sipe_bulk}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PEOPLE=${BENCH_PEOPLE:-350000}
BATCH=${BENCH_BATCH:-5000}
SEARCHES=${BENCH_SEARCHES:-200}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=18093
AULA=http://127.0.0.1:$PORT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando ($PROFILE, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build "${BUILD_FLAGS[@]}" --example sipe_bulk --bin aula)
fi
for b in "$BIN/aula" "$BIN/examples/sipe_bulk"; do
  [[ -x $b ]] || die "no está $b"
done

rm -rf "$OUT"
mkdir -p "$OUT"

for backend in $BACKENDS; do
  dir=$OUT/$backend
  mkdir -p "$dir/data"
  db_env=(env -u DATABASE_URL -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN)
  db_args=()
  case $backend in
    sqlite) db_args=(--sqlite "$dir/data/aula.db") ;;
    postgres)
      pg_isready -q -d "$PG/postgres" 2>/dev/null || die "PostgreSQL no responde en $PG"
      psql -q -v ON_ERROR_STOP=1 -d "$PG/postgres" \
        -c "DROP DATABASE IF EXISTS aula_sipe WITH (FORCE)" -c "CREATE DATABASE aula_sipe" >/dev/null
      db_env=(env -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN DATABASE_URL="$PG/aula_sipe")
      ;;
    *) die "backend desconocido: $backend" ;;
  esac
  log "$backend: arrancando aula serve en $AULA"
  # The load is one token's batches: the per-token limit must not be what is measured.
  (cd "$ROOT" && exec "${db_env[@]}" RUST_LOG="warn" AULA_LIMIT_API_PER_TOKEN_MINUTE=100000 \
    "${SERVER_CPU[@]}" "$BIN/aula" --data-dir "$dir/data" serve --listen "127.0.0.1:$PORT") >>"$dir/aula.log" 2>&1 &
  aula_pid=$!
  PIDS+=("$aula_pid")
  wait_http "$AULA/readyz" 240 || die "aula no quedó lista (ver $dir/aula.log)"
  "${db_env[@]}" "$BIN/examples/sipe_bulk" seed "${db_args[@]}" >"$dir/seed.env"
  # shellcheck disable=SC1091
  . "$dir/seed.env"
  log "$backend: $PEOPLE personas en lotes de $BATCH"
  "${LOAD_CPU[@]}" "$BIN/examples/sipe_bulk" run --base "$AULA" --token="$TOKEN" \
    --operator-cookie="$OPERATOR_COOKIE" --people "$PEOPLE" --batch "$BATCH" \
    --searches "$SEARCHES" | tee "$dir/run.txt" >&2
  if [[ $backend == postgres ]]; then
    # The bench machine's PostgreSQL runs with autovacuum off; a production one would have
    # analyzed the new rows within a minute. The searches again, with the statistics.
    psql -q -d "$PG/aula_sipe" -c "ANALYZE" >/dev/null
    log "$backend: búsquedas de nuevo, tras ANALYZE"
    "${LOAD_CPU[@]}" "$BIN/examples/sipe_bulk" run --base "$AULA" --token="$TOKEN" \
      --operator-cookie="$OPERATOR_COOKIE" --people "$PEOPLE" --batch "$BATCH" \
      --searches "$SEARCHES" --search-only | tee -a "$dir/run.txt" >&2
  fi
  stop_pid "$aula_pid"
  if [[ $backend == postgres ]]; then
    psql -q -d "$PG/postgres" -c "DROP DATABASE IF EXISTS aula_sipe WITH (FORCE)" >/dev/null || true
  fi
done

log "resultados"
for backend in $BACKENDS; do
  printf '%s\t%s\n' "$backend" "$(grep -E '^SIPE_(BULK|SEARCH) ' "$OUT/$backend/run.txt" || echo 'sin resultado')"
done
