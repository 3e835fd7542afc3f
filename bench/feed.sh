#!/usr/bin/env bash
# SIPE feed delivery throughput (issue 11; results in BENCHMARKS.md by hand): for each backend,
# N people are loaded through POST /api/v1/personas/lote while NO webhook endpoint is
# configured (each person leaves one persona.registrada event in the outbox); then Aula is
# started again pointing at examples/feed_receiver (which checks every signature and counts
# distinct webhook-ids), and the time from that start until the receiver holds every event of
# the outbox is measured. Afterwards feed_deliveries must say every event was delivered.
#
#   bash bench/feed.sh
#   BENCH_PROFILE=debug BENCH_EVENTS=2000 bash bench/feed.sh      # a quick check
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_EVENTS=20000                 people loaded, so persona.registrada events (plus one for
#                                      the token seeder's person: the receiver expects the
#                                      outbox's actual count)
#   BENCH_BATCH=5000                   people per batch of the load
#   BENCH_FEED_CONCURRENCY             passed as AULA_FEED_CONCURRENCY (default: Aula's, 8)
#   BENCH_FEED_TIMEOUT=1800            seconds to wait for every event before giving up
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   PostgreSQL server (database aula_feed is dropped and recreated)
#   BENCH_KEEP_DB=1                    leave aula_feed in place afterwards, to look at the queue
#   BENCH_PIN=1                        pin the server to CPU 0 and the receiver to CPU 1
#   BENCH_SKIP_BUILD=1                 reuse the binaries already built
#   BENCH_PROFILE=release              or "debug" for a quick check with a small BENCH_EVENTS
#   BENCH_OUT=bench/out/feed           where logs and results go
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
OUT=${BENCH_OUT:-$ROOT/bench/out/feed}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
EVENTS=${BENCH_EVENTS:-20000}
BATCH=${BENCH_BATCH:-5000}
TIMEOUT=${BENCH_FEED_TIMEOUT:-1800}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PGDB=aula_feed
PORT=18095
RECEIVER_PORT=18096
AULA=http://127.0.0.1:$PORT
RECEIVER=http://127.0.0.1:$RECEIVER_PORT
# Made up for this run: Aula signs with it, the receiver verifies with it.
SECRET="whsec_$(head -c 24 /dev/urandom | base64 -w0)"
FEED_ENV=()
if [[ -n ${BENCH_FEED_CONCURRENCY:-} ]]; then
  FEED_ENV=(AULA_FEED_CONCURRENCY="$BENCH_FEED_CONCURRENCY")
fi

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando ($PROFILE, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build "${BUILD_FLAGS[@]}" --example feed_receiver --example sipe_bulk --bin aula)
fi
for b in "$BIN/aula" "$BIN/examples/sipe_bulk" "$BIN/examples/feed_receiver"; do
  [[ -x $b ]] || die "no está $b"
done

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"

rss_kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
# CPU seconds (user + system) the process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }
# A number from the receiver's last FEED_RECEIVER line ($final).
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$final"; }

# One query on the backend's database; columns separated by '|'.
sql() {
  case $backend in
    sqlite) sqlite3 -separator '|' "$dir/data/aula.db" "$1" ;;
    postgres) psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -d "$PG/$PGDB" -c "$1" ;;
  esac
}

# Starts aula serve on $dir/data with the environment given as arguments; sets aula_pid.
# Run from $dir so no aula.toml of the checkout is read; demo data off (it is not what is
# measured, and its own events would only add to the count).
start_aula() {
  (cd "$dir" && exec "${db_env[@]}" RUST_LOG=warn AULA_NO_DEMO=1 "$@" \
    "${SERVER_CPU[@]}" "$BIN/aula" --data-dir "$dir/data" serve --listen "127.0.0.1:$PORT") >>"$dir/aula.log" 2>&1 &
  aula_pid=$!
  PIDS+=("$aula_pid")
}

# Delivery state of the `sipe` endpoint: queued|delivered|pending|dead|attempts|outbox|unqueued.
delivery_state() {
  sql "SELECT (SELECT COUNT(*) FROM feed_deliveries WHERE endpoint = 'sipe'),
              (SELECT COUNT(*) FROM feed_deliveries WHERE endpoint = 'sipe' AND delivered_at IS NOT NULL),
              (SELECT COUNT(*) FROM feed_deliveries WHERE endpoint = 'sipe' AND delivered_at IS NULL AND dead_at IS NULL),
              (SELECT COUNT(*) FROM feed_deliveries WHERE endpoint = 'sipe' AND dead_at IS NOT NULL),
              (SELECT COALESCE(SUM(attempts), 0) FROM feed_deliveries WHERE endpoint = 'sipe'),
              (SELECT COUNT(*) FROM outbox),
              (SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (
                  SELECT 1 FROM feed_deliveries d WHERE d.endpoint = 'sipe' AND d.outbox_id = o.id))"
}

for backend in $BACKENDS; do
  dir=$OUT/$backend
  mkdir -p "$dir/data"
  # No endpoint from the caller's environment may leak into either start.
  db_env=(env -u DATABASE_URL -u AULA_CONFIG -u AULA_NO_DEMO -u AULA_LISTEN -u AULA_FEED_WEBHOOK_URL
    -u AULA_FEED_WEBHOOK_SECRET -u AULA_FEED_CONCURRENCY)
  db_args=()
  case $backend in
    sqlite) db_args=(--sqlite "$dir/data/aula.db") ;;
    postgres)
      pg_isready -q -d "$PG/postgres" 2>/dev/null || die "PostgreSQL no responde en $PG"
      # "database does not exist, skipping" is not news.
      PGOPTIONS="-c client_min_messages=warning" psql -q -v ON_ERROR_STOP=1 -d "$PG/postgres" \
        -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB" >/dev/null
      db_env+=(DATABASE_URL="$PG/$PGDB")
      ;;
    *) die "backend desconocido: $backend" ;;
  esac

  # 1. The outbox fills while nobody is listening.
  log "$backend: arrancando aula serve sin destino de webhooks en $AULA"
  # The load is one token's batches: the per-token limit must not be what is measured.
  start_aula AULA_LIMIT_API_PER_TOKEN_MINUTE=100000
  wait_http "$AULA/readyz" 240 || die "aula no quedó lista (ver $dir/aula.log)"
  "${db_env[@]}" "$BIN/examples/sipe_bulk" seed "${db_args[@]}" >"$dir/seed.env"
  # shellcheck disable=SC1091
  . "$dir/seed.env"
  log "$backend: $EVENTS personas en lotes de $BATCH (cada una deja un evento en el outbox)"
  "$BIN/examples/sipe_bulk" run --base "$AULA" --token="$TOKEN" \
    --operator-cookie="$OPERATOR_COOKIE" --people "$EVENTS" --batch "$BATCH" \
    --searches 0 | tee "$dir/load.txt" >&2
  stop_pid "$aula_pid"
  IFS='|' read -r queued _ _ _ _ expected _ <<<"$(delivery_state)"
  [[ $queued == 0 ]] || die "$backend: hay $queued entregas en cola sin destino configurado"
  ((expected >= EVENTS)) || die "$backend: el outbox tiene $expected eventos, se esperaban $EVENTS o más"

  # 2. The receiver, then Aula again with the endpoint: the clock starts with Aula's start.
  log "$backend: receptor en $RECEIVER esperando $expected eventos"
  "${LOAD_CPU[@]}" "$BIN/examples/feed_receiver" --listen "127.0.0.1:$RECEIVER_PORT" \
    --secret "$SECRET" --expect "$expected" >"$dir/receiver.txt" 2>"$dir/receiver.log" &
  receiver_pid=$!
  PIDS+=("$receiver_pid")
  wait_http "$RECEIVER/stats" 60 || die "el receptor no arrancó (ver $dir/receiver.log)"
  log "$backend: arrancando aula serve con AULA_FEED_WEBHOOK_URL=$RECEIVER/sipe${FEED_ENV[*]:+ ${FEED_ENV[*]}}"
  started=$(now_ms)
  start_aula AULA_FEED_WEBHOOK_URL="$RECEIVER/sipe" AULA_FEED_WEBHOOK_SECRET="$SECRET" "${FEED_ENV[@]}"
  deadline=$((started + TIMEOUT * 1000))
  next_report=$((started + 10000))
  until grep -q '^FEED_RECEIVER ' "$dir/receiver.txt"; do
    kill -0 "$aula_pid" 2>/dev/null || die "$backend: aula terminó antes de entregar todo (ver $dir/aula.log)"
    t=$(now_ms)
    if ((t > deadline)); then
      curl -fsS "$RECEIVER/stats" >&2 || true
      die "$backend: no llegaron los $expected eventos en $TIMEOUT s (ver $dir/aula.log)"
    fi
    if ((t > next_report)); then
      printf '%5.0f s  %s' "$(((t - started) / 1000))" "$(curl -fsS "$RECEIVER/stats" || echo '?')" >&2
      next_report=$((t + 10000))
    fi
    sleep 0.2
  done
  # The receiver answers before Aula records the delivery: give the last rows a moment.
  for _ in $(seq 1 100); do
    IFS='|' read -r queued delivered pending dead attempts outbox unqueued <<<"$(delivery_state)"
    ((pending == 0)) && break
    sleep 0.3
  done
  rss_peak_kb=$(rss_kb "$aula_pid" VmHWM)
  aula_cpu=$(cpu_s "$aula_pid")
  receiver_cpu=$(cpu_s "$receiver_pid")
  stop_pid "$aula_pid"
  # Read after Aula stopped: a redelivery in the last moments still counts as a duplicate.
  final=$(curl -fsS "$RECEIVER/stats")
  stop_pid "$receiver_pid"
  first_at=$(field first_at)
  last_at=$(field last_at)
  ok=yes
  if ((delivered != expected || pending != 0 || dead != 0 || unqueued != 0 || outbox != expected)); then
    ok=no
  fi
  printf 'FEED_CHECK backend=%s outbox=%s queued=%s delivered=%s pending=%s dead=%s unqueued=%s attempts=%s ok=%s\n' \
    "$backend" "$outbox" "$queued" "$delivered" "$pending" "$dead" "$unqueued" "$attempts" "$ok" | tee -a "$RESULTS" >&2
  awk -v b="$backend" -v n="$expected" -v s="$started" -v f="$first_at" -v l="$last_at" \
    -v d="$(field duplicates)" -v bad="$(field bad_signatures)" -v rss="$rss_peak_kb" \
    -v conc="${BENCH_FEED_CONCURRENCY:-8}" -v cpu="$aula_cpu" -v rcpu="$receiver_cpu" 'BEGIN {
      secs = (l - s) / 1000
      printf "FEED_BENCH backend=%s events=%d seconds=%.1f events_per_s=%.0f duplicates=%d bad_signatures=%d", b, n, secs, n / secs, d, bad
      printf " start_to_first_s=%.1f first_to_last_s=%.1f concurrency=%s rss_peak_mb=%.1f aula_cpu_s=%s receiver_cpu_s=%s\n", (f - s) / 1000, (l - f) / 1000, conc, rss / 1024, cpu, rcpu
    }' | tee -a "$RESULTS" >&2
  [[ $ok == yes ]] || die "$backend: feed_deliveries no dice que todo se entregó (ver $RESULTS)"
  if [[ $backend == postgres && ${BENCH_KEEP_DB:-0} != 1 ]]; then
    psql -q -d "$PG/postgres" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null || true
  fi
done

log "resultados ($RESULTS)"
cat "$RESULTS"
