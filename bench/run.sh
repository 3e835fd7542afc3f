#!/usr/bin/env bash
# Aula's benchmark: requests/s and p99 of the learner pages against a bare axum baseline
# measured in the same run, on SQLite and on PostgreSQL; the enrolment burst with its
# database check; and the compressed weight of the learner pages. See BENCHMARKS.md.
#
#   bash bench/run.sh
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_DURATION=10s                  wrk duration per route (plus a 2 s warm-up)
#   BENCH_CONNECTIONS=64 BENCH_THREADS=2  wrk connections and threads
#   BENCH_LEARNERS=2000 BENCH_SEATS=300 BENCH_BURST_CONCURRENCY=256   the enrolment burst
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   PostgreSQL server (database aula_bench is dropped and recreated)
#   BENCH_PIN=1                         pin servers to CPU 0 and wrk to CPU 1 (default: unpinned)
#   BENCH_SKIP_BUILD=1                  reuse the release binaries already built
#   BENCH_OUT=bench/out                 where logs and results go
#
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
BIN=$CARGO_TARGET_DIR/release
OUT=${BENCH_OUT:-$ROOT/bench/out}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
LEARNERS=${BENCH_LEARNERS:-2000}
SEATS=${BENCH_SEATS:-300}
BURST_CONC=${BENCH_BURST_CONCURRENCY:-256}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
AULA_PORT=18080
HELLO_PORT=18081
AULA=http://127.0.0.1:$AULA_PORT
HELLO=http://127.0.0.1:$HELLO_PORT
# What a browser sends; the server compresses HTML with brotli/gzip accordingly.
ACCEPT_ENCODING="gzip, deflate, br"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------------------------------------
log "herramientas"
if ! command -v wrk >/dev/null; then
  echo "instalando wrk (apt-get)" >&2
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
fi
command -v wrk >/dev/null || die "falta wrk"
command -v curl >/dev/null || die "falta curl"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando en release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --release --examples --bin aula)
fi
for b in "$BIN/aula" "$BIN/examples/hello" "$BIN/examples/loadgen"; do
  [[ -x $b ]] || die "no está $b: compilá con cargo build --release --examples --bin aula"
done

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'backend\troute\trps\tp50_ms\tp99_ms\tnon2xx\terrors\n' >"$RESULTS"

# Latency value from wrk ("812.00us", "3.45ms", "1.02s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else printf "%s", v }'
}

# run_wrk BACKEND ROUTE-NAME URL [extra wrk args...]
run_wrk() {
  local backend=$1 name=$2 url=$3
  shift 3
  local file="$OUT/$backend/wrk-${name// /_}.txt"
  # Warm-up (connections, caches, SQLite page cache), then the measured run.
  "${LOAD_CPU[@]}" wrk -t"$THREADS" -c"$CONNS" -d2s "$@" "$url" >/dev/null
  "${LOAD_CPU[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$file"
  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$file")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$file")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$file")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$file")
  errors=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$file")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$name" "$rps" "$p50" "$p99" "${non2xx:-0}" "${errors:-0}" >>"$RESULTS"
  printf '   %-28s %10s req/s   p50 %8s ms   p99 %8s ms   no-2xx %s   errores %s\n' \
    "$name" "$rps" "$p50" "$p99" "${non2xx:-0}" "${errors:-0}" >&2
}

# ---------------------------------------------------------------------------------------------
log "baseline: examples/hello en $HELLO"
"${SERVER_CPU[@]}" "$BIN/examples/hello" "127.0.0.1:$HELLO_PORT" >"$OUT/hello.log" 2>&1 &
PIDS+=($!)
wait_http "$HELLO/" 20 || die "hello no arrancó (ver $OUT/hello.log)"

for backend in $BACKENDS; do
  dir=$OUT/$backend
  mkdir -p "$dir/data"
  db_args=()
  db_env=(env -u DATABASE_URL -u AULA_CONFIG -u AULA_NO_DEMO)
  case $backend in
    sqlite)
      db_args=(--sqlite "$dir/data/aula.db")
      ;;
    postgres)
      if ! pg_isready -q -d "$PG/postgres" 2>/dev/null; then
        echo "PostgreSQL no responde en $PG: salteo el backend postgres" >&2
        continue
      fi
      psql -q -v ON_ERROR_STOP=1 -d "$PG/postgres" \
        -c "DROP DATABASE IF EXISTS aula_bench WITH (FORCE)" -c "CREATE DATABASE aula_bench" >/dev/null
      db_env=(env -u AULA_CONFIG -u AULA_NO_DEMO DATABASE_URL="$PG/aula_bench")
      ;;
    *) die "backend desconocido: $backend" ;;
  esac

  log "$backend: arrancando aula serve en $AULA"
  # Run from the data folder so no stray ./aula.toml is picked up; log level as in production.
  (cd "$dir" && exec "${db_env[@]}" RUST_LOG="info,tower_http=warn,sqlx=warn" \
    "${SERVER_CPU[@]}" "$BIN/aula" --data-dir "$dir/data" --courses-dir "$ROOT/courses" \
    --media-dir "$ROOT/media" serve --listen "127.0.0.1:$AULA_PORT") >"$dir/aula.log" 2>&1 &
  aula_pid=$!
  PIDS+=("$aula_pid")
  wait_http "$AULA/readyz" 120 || die "aula no quedó lista (ver $dir/aula.log)"

  log "$backend: sembrando $LEARNERS lectores y una comisión de $SEATS cupos"
  "${db_env[@]}" "$BIN/examples/loadgen" seed "${db_args[@]}" --learners "$LEARNERS" --seats "$SEATS" --out "$dir" | tee "$dir/seed.txt" >&2
  # shellcheck disable=SC1091
  source "$dir/seed.env"
  jar="aula_csrf=$CSRF"
  reader="aula_sesion=$READER_COOKIE; aula_csrf=$CSRF"
  lesson_path="/cursos/$SLUG/lecciones/$LESSON"
  for p in /cursos "/cursos/$SLUG"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $jar" "$AULA$p")
    [[ $code == 200 ]] || die "$p respondió $code"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $reader" "$AULA$lesson_path")
  [[ $code == 200 ]] || die "$lesson_path (con sesión) respondió $code"

  log "$backend: wrk -t$THREADS -c$CONNS -d$DURATION (Accept-Encoding: $ACCEPT_ENCODING)"
  run_wrk "$backend" "baseline (hello)" "$HELLO/" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "healthz" "$AULA/healthz" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "readyz (SELECT 1)" "$AULA/readyz" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "catalogue" "$AULA/cursos" -H "Cookie: $jar" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "course" "$AULA/cursos/$SLUG" -H "Cookie: $jar" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "lesson (logged in)" "$AULA$lesson_path" -H "Cookie: $reader" -H "Accept-Encoding: $ACCEPT_ENCODING"
  run_wrk "$backend" "lesson, gzip only" "$AULA$lesson_path" -H "Cookie: $reader" -H "Accept-Encoding: gzip"
  run_wrk "$backend" "lesson, uncompressed" "$AULA$lesson_path" -H "Cookie: $reader"
  run_wrk "$backend" "baseline again" "$HELLO/" -H "Accept-Encoding: $ACCEPT_ENCODING"

  log "$backend: ráfaga de inscripciones ($LEARNERS solicitudes, concurrencia $BURST_CONC, $SEATS cupos)"
  if "${db_env[@]}" "$BIN/examples/loadgen" burst "${db_args[@]}" --base "$AULA" --cookies "$dir/cookies.txt" \
    --class "$CLASS_ID" --concurrency "$BURST_CONC" >"$dir/burst.txt" 2>&1; then
    burst_ok=yes
  else
    burst_ok=NO
  fi
  cat "$dir/burst.txt" >&2
  sed -n 's/^BURST /burst\t/p' "$dir/burst.txt" | sed "s/^/$backend\t/" >>"$OUT/burst.tsv"

  log "$backend: peso de las páginas (comprimidas, con lo que enlazan)"
  "$BIN/examples/loadgen" page-weight --base "$AULA" --cookie="$READER_COOKIE" --csrf="$CSRF" \
    --slug "$SLUG" --lessons "$LESSONS" >"$dir/weight.txt" 2>&1 || true
  cat "$dir/weight.txt" >&2

  stop_pid "$aula_pid"
  if [[ $backend == postgres ]]; then
    psql -q -d "$PG/postgres" -c "DROP DATABASE IF EXISTS aula_bench WITH (FORCE)" >/dev/null || true
  fi
  [[ $burst_ok == yes ]] || echo "ATENCIÓN: la ráfaga de inscripciones en $backend no pasó los controles" >&2
done

# ---------------------------------------------------------------------------------------------
log "resultados (ratio = req/s de la ruta / req/s del baseline medido en la misma corrida y backend)"
{
  printf '| backend | route | req/s | p50 (ms) | p99 (ms) | ratio to baseline |\n'
  printf '|---|---|---:|---:|---:|---:|\n'
  awk -F'\t' 'NR > 1 {
      if ($2 == "baseline (hello)") base[$1] = $3
      printf "| %s | %s | %.0f | %s | %s | %.3f |\n", $1, $2, $3, $4, $5, (base[$1] > 0 ? $3 / base[$1] : 0)
      if ($6 + 0 > 0 || $7 + 0 > 0) bad = bad sprintf("  %s %s: %s respuestas no-2xx, %s errores de socket\n", $1, $2, $6, $7)
    } END { if (bad != "") printf "\nATENCIÓN:\n%s", bad }' "$RESULTS"
  if [[ -s $OUT/burst.tsv ]]; then
    printf '\n'
    cut -f1,3- "$OUT/burst.tsv"
  fi
  for backend in $BACKENDS; do
    [[ -f $OUT/$backend/weight.txt ]] && grep '^WEIGHT' "$OUT/$backend/weight.txt" | sed "s/^/$backend /"
  done
} | tee "$OUT/summary.md"

lesson_ratio_fail=$(awk -F'\t' 'NR > 1 { if ($2 == "baseline (hello)") base[$1] = $3;
  if ($2 == "lesson (logged in)" && base[$1] > 0 && $3 / base[$1] < 1/3) print $1 }' "$RESULTS" | tr '\n' ' ')
if [[ -n $lesson_ratio_fail ]]; then
  echo "La lección queda por debajo de 1/3 del baseline en: $lesson_ratio_fail" >&2
else
  echo "La lección alcanza al menos 1/3 del baseline en todos los backends medidos." >&2
fi
