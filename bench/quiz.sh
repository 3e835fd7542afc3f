#!/usr/bin/env bash
# Quiz autosave under load, and its durability across a SIGKILL (issue 3; results in
# BENCHMARKS.md). For each backend, against a release build:
#
#   1. load: N learners (2,000) start the same timed quiz, then each autosaves one changed answer
#      at exponentially distributed intervals (mean 15 s) for BENCH_DURATION; p50/p90/p99/max of
#      the autosave request and every error (non-200, timeout, connection error).
#   2. sigkill: the same load on a fresh database, every save logged when sent and when
#      acknowledged; at mid-run the server gets `kill -9`. With the server dead, `quizload verify`
#      checks that every acknowledged answer is in the database; then the server is restarted on
#      the same database after BENCH_OUTAGE seconds (saves meanwhile fail and are retried, as the
#      page's script does), the load carries on to the end, and `verify` checks again.
#
#   bash bench/quiz.sh
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_DURATION=120s                autosave phase of each scenario
#   BENCH_LEARNERS=2000                learners taking the quiz
#   BENCH_MEAN_INTERVAL_MS=15000       mean time between one learner's saves
#   BENCH_SCENARIOS="load sigkill"     which scenarios to run
#   BENCH_OUTAGE=5                     seconds the killed server stays down before the restart
#   BENCH_START_WITHIN=0               synchronized start: every learner presses «Comenzar» at a
#                                      random moment within this many seconds (open loop, issue 13:
#                                      10 for 10,000 takers); 0 = 64 starts in flight (closed loop)
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   PostgreSQL server (databases aula_quiz_* are dropped and recreated)
#   BENCH_PIN=1                        pin the server to CPU 0 and the load generator to CPU 1
#   BENCH_SKIP_BUILD=1                 reuse the release binaries already built
#   BENCH_OUT=bench/out/quiz           where logs and results go
#
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
BIN=$CARGO_TARGET_DIR/release
OUT=${BENCH_OUT:-$ROOT/bench/out/quiz}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
SCENARIOS=${BENCH_SCENARIOS:-load sigkill}
DURATION=${BENCH_DURATION:-120s}
DURATION=${DURATION%s}
LEARNERS=${BENCH_LEARNERS:-2000}
MEAN_MS=${BENCH_MEAN_INTERVAL_MS:-15000}
OUTAGE=${BENCH_OUTAGE:-5}
START_WITHIN=${BENCH_START_WITHIN:-0}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=18090
AULA=http://127.0.0.1:$PORT

[[ $DURATION =~ ^[0-9]+$ ]] || { echo "BENCH_DURATION inválida: $DURATION" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v curl >/dev/null || die "falta curl"
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando en release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --release --example quizload --bin aula)
fi
for b in "$BIN/aula" "$BIN/examples/quizload"; do
  [[ -x $b ]] || die "no está $b: compilá con cargo build --release --example quizload --bin aula"
done

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'backend\tscenario\tok\terrors\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tverify_at_kill\tverify_final\n' >"$RESULTS"

# Globals set per scenario: db_env (env prefix for server and tools), db_args (quizload --sqlite),
# dir (scenario folder), aula_pid.
start_server() {
  (cd "$dir" && exec "${db_env[@]}" RUST_LOG="info,tower_http=warn,sqlx=warn" \
    "${SERVER_CPU[@]}" "$BIN/aula" --data-dir "$dir/data" --courses-dir "$dir/seed/courses" \
    --media-dir "$dir/seed/media" serve --no-demo --listen "127.0.0.1:$PORT") >>"$dir/aula.log" 2>&1 &
  aula_pid=$!
  PIDS+=("$aula_pid")
  wait_http "$AULA/readyz" 120 || die "aula no quedó lista (ver $dir/aula.log)"
}

# prepare BACKEND SCENARIO: fresh folder and database, server started, learners seeded.
prepare() {
  local backend=$1 scenario=$2
  dir=$OUT/$backend/$scenario
  mkdir -p "$dir/data" "$dir/seed/courses" "$dir/seed/media"
  db_env=(env -u DATABASE_URL -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN)
  db_args=()
  case $backend in
    sqlite)
      db_args=(--sqlite "$dir/data/aula.db")
      ;;
    postgres)
      local name=aula_quiz_$scenario
      psql -q -v ON_ERROR_STOP=1 -d "$PG/postgres" \
        -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
      db_env=(env -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN DATABASE_URL="$PG/$name")
      ;;
  esac
  log "$backend/$scenario: arrancando aula serve en $AULA"
  start_server
  log "$backend/$scenario: sembrando $LEARNERS personas inscriptas en la evaluación cronometrada"
  "${db_env[@]}" "$BIN/examples/quizload" seed "${db_args[@]}" --learners "$LEARNERS" --out "$dir/seed" |
    tee "$dir/seed.txt" >&2
}

finish() {
  local backend=$1 scenario=$2
  stop_pid "$aula_pid"
  if [[ $backend == postgres ]]; then
    psql -q -d "$PG/postgres" -c "DROP DATABASE IF EXISTS aula_quiz_$scenario WITH (FORCE)" >/dev/null || true
  fi
}

# result BACKEND SCENARIO RUN-OUTPUT VERIFY-AT-KILL VERIFY-FINAL
result() {
  local line
  line=$(grep '^QUIZ ' "$3" || true)
  [[ -n $line ]] || die "sin resultados en $3"
  # QUIZ ok=N errors=N p50_ms=X p90_ms=X p99_ms=X max_ms=X secs=X
  awk -v b="$1" -v s="$2" -v vk="$4" -v vf="$5" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b, s, v["ok"], v["errors"], v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"], vk, vf
    }' <<<"$line" >>"$RESULTS"
}

for backend in $BACKENDS; do
  case $backend in
    sqlite) ;;
    postgres)
      if ! pg_isready -q -d "$PG/postgres" 2>/dev/null; then
        echo "PostgreSQL no responde en $PG: salteo el backend postgres" >&2
        continue
      fi
      ;;
    *) die "backend desconocido: $backend" ;;
  esac

  if [[ " $SCENARIOS " == *" load "* ]]; then
    prepare "$backend" load
    log "$backend/load: $LEARNERS personas guardando cada ${MEAN_MS} ms en promedio durante ${DURATION} s"
    "${LOAD_CPU[@]}" "$BIN/examples/quizload" run --base "$AULA" --seed-dir "$dir/seed" \
      --duration "$DURATION" --mean-interval-ms "$MEAN_MS" --start-within "$START_WITHIN" \
      >"$dir/run.txt" 2>&1 || true
    cat "$dir/run.txt" >&2
    result "$backend" load "$dir/run.txt" - -
    finish "$backend" load
  fi

  if [[ " $SCENARIOS " == *" sigkill "* ]]; then
    prepare "$backend" sigkill
    log "$backend/sigkill: la misma carga; kill -9 al servidor a los $((DURATION / 2)) s"
    rm -f "$dir/ready"
    "${LOAD_CPU[@]}" "$BIN/examples/quizload" run --base "$AULA" --seed-dir "$dir/seed" \
      --duration "$DURATION" --mean-interval-ms "$MEAN_MS" --start-within "$START_WITHIN" \
      --acks "$dir/acks.tsv" --ready-file "$dir/ready" >"$dir/run.txt" 2>&1 &
    run_pid=$!
    PIDS+=("$run_pid")
    for ((i = 0; i < 600; i++)); do
      [[ -f $dir/ready ]] && break
      kill -0 "$run_pid" 2>/dev/null || { cat "$dir/run.txt" >&2; die "quizload run terminó antes de empezar"; }
      sleep 0.5
    done
    [[ -f $dir/ready ]] || die "los intentos no comenzaron en 5 minutos"
    sleep $((DURATION / 2))
    kill -KILL "$aula_pid"
    wait "$aula_pid" 2>/dev/null || true
    forget_pid "$aula_pid"
    echo "servidor (pid $aula_pid) matado con SIGKILL" >&2
    # With the server dead nothing changes the database: check it now, then restart.
    if "${db_env[@]}" "$BIN/examples/quizload" verify "${db_args[@]}" --acks "$dir/acks.tsv" >"$dir/verify-at-kill.txt" 2>&1; then
      at_kill=OK
    else
      at_kill=FALLA
    fi
    cat "$dir/verify-at-kill.txt" >&2
    # Down for a while (a supervisor restarting it), so saves fail and the learners retry.
    sleep "$OUTAGE"
    log "$backend/sigkill: reiniciando el servidor sobre la misma base tras ${OUTAGE} s caído"
    echo "--- reinicio tras SIGKILL ---" >>"$dir/aula.log"
    start_server
    wait "$run_pid" || true
    forget_pid "$run_pid"
    cat "$dir/run.txt" >&2
    if "${db_env[@]}" "$BIN/examples/quizload" verify "${db_args[@]}" --acks "$dir/acks.tsv" >"$dir/verify-final.txt" 2>&1; then
      final=OK
    else
      final=FALLA
    fi
    cat "$dir/verify-final.txt" >&2
    result "$backend" sigkill "$dir/run.txt" "$at_kill" "$final"
    finish "$backend" sigkill
  fi
done

log "resultados (guardado automático; en sigkill los errores son los del corte)"
{
  printf '| backend | escenario | guardados OK | errores | p50 (ms) | p90 (ms) | p99 (ms) | máx (ms) | verify al matar | verify final |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---:|---|---|\n'
  awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$RESULTS"
} | tee "$OUT/summary.md"

fail=$(awk -F'\t' 'NR > 1 && ($2 == "load" && $4 + 0 > 0 || $9 == "FALLA" || $10 == "FALLA") { print $1 "/" $2 }' "$RESULTS" | tr '\n' ' ')
if [[ -n $fail ]]; then
  echo "ATENCIÓN: errores en la carga o respuestas confirmadas perdidas en: $fail" >&2
  exit 1
fi
echo "Sin errores en la carga y sin respuestas confirmadas perdidas." >&2
