#!/usr/bin/env bash
# Media benchmark: a large video served with range requests to many concurrent clients, on
# the local store and on an S3-compatible store (moto's server), reporting throughput and the
# server's resident memory before the load and at its peak (VmHWM). Downloads are streamed,
# never buffered, so the peak must stay flat whatever the file size. See BENCHMARKS.md.
#
#   bash bench/media.sh
#
# Knobs (environment):
#   BENCH_STORES="local s3"        which stores to run
#   BENCH_SIZE_MB=50                size of the video
#   BENCH_CLIENTS=200               concurrent connections (wrk -c)
#   BENCH_THREADS=2                 wrk threads
#   BENCH_DURATION=20s              wrk duration per store
#   BENCH_RANGE_KB=1024             size of each range request (a player's typical chunk)
#   BENCH_PROFILE=release           release or debug build of aula (debug: smoke runs only)
#   BENCH_PIN=1                     pin aula to CPU 0 and wrk to CPU 1
#   BENCH_SKIP_BUILD=1              reuse the binary already built
#   BENCH_OUT=bench/out-media       where logs and results go
#
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${BENCH_PROFILE:-release}
if [[ $PROFILE == release ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
  BIN=$CARGO_TARGET_DIR/release/aula
  BUILD=(cargo build --release --bin aula)
else
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/aula
  BUILD=(cargo build --bin aula)
fi
STORES=${BENCH_STORES:-local s3}
SIZE_MB=${BENCH_SIZE_MB:-50}
CLIENTS=${BENCH_CLIENTS:-200}
THREADS=${BENCH_THREADS:-2}
DURATION=${BENCH_DURATION:-20s}
RANGE_KB=${BENCH_RANGE_KB:-1024}
OUT=${BENCH_OUT:-$ROOT/bench/out-media}
AULA_PORT=18090
AULA=http://127.0.0.1:$AULA_PORT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

log "herramientas"
install_deb() {
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
command -v wrk >/dev/null || install_deb wrk
command -v wrk >/dev/null || die "falta wrk"
command -v curl >/dev/null || die "falta curl"
if [[ " $STORES " == *" s3 "* ]] && ! command -v moto_server >/dev/null; then
  python3 -m pip install --quiet 'moto[server]' || die "falta moto_server (pip install 'moto[server]')"
fi

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "compilando aula ($PROFILE)"
  (cd "$ROOT" && "${BUILD[@]}")
fi
[[ -x $BIN ]] || die "no está $BIN"

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'store\tsize_mb\tclients\trequests_s\tMB_s\tnon2xx\terrors\trss_before_mb\trss_peak_mb\n' >"$RESULTS"

# A course whose lesson plays the video: importing it publishes the video to the store.
log "video de ${SIZE_MB} MB"
course=$OUT/courses/bench-medios
mkdir -p "$course/lessons" "$OUT/media/bench"
video=$OUT/media/bench/video.mp4
# A real MP4 head (the demo clip), then incompressible bytes up to the size.
head_mp4=$ROOT/media/atencion-al-cliente/saludo.mp4
cp "$head_mp4" "$video"
head -c $((SIZE_MB * 1024 * 1024 - $(stat -c %s "$head_mp4"))) /dev/urandom >>"$video"
cat >"$course/course.toml" <<'EOF'
slug = "bench-medios"
title = "Medios (benchmark)"
summary = "Un video grande."
category = "Pruebas"
hours = 1
modality = "virtual"
audience = "Benchmark."

[[competencies]]
code = "B-1"
name = "Mira videos"

[completion]
min_lessons_percent = 100
EOF
printf '+++\nid = "video"\ntitle = "Video"\norder = 1\nminutes = 10\nvideo = "bench/video.mp4"\n+++\nEl video.\n' \
  >"$course/lessons/01-video.md"
sha=$(sha256sum "$video" | cut -d' ' -f1)
path="/media/o/${sha:0:2}/$sha.mp4"
size=$(stat -c %s "$video")

# Random ranges of RANGE_KB inside the file, like a player seeking and buffering.
cat >"$OUT/ranges.lua" <<EOF
local size = $size
local chunk = $((RANGE_KB * 1024))
math.randomseed(os.time())
request = function()
  local start = math.random(0, size - chunk)
  return wrk.format("GET", "$path", { ["Range"] = "bytes=" .. start .. "-" .. (start + chunk - 1) })
end
EOF

rss_kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

run_store() {
  local store=$1 dir=$OUT/$store env=(env -u DATABASE_URL -u AULA_CONFIG AULA_MEDIA_RENDITIONS=0)
  mkdir -p "$dir"
  if [[ $store == s3 ]]; then
    log "s3: arrancando moto_server"
    moto_server -H 127.0.0.1 -p 0 >"$dir/moto.log" 2>&1 &
    local moto=$!
    PIDS+=("$moto")
    local url=""
    for _ in $(seq 1 60); do
      url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir/moto.log" | head -1 || true)
      [[ -n $url ]] && curl -s -o /dev/null "$url" && break
      url=""
      sleep 0.5
    done
    [[ -n $url ]] || die "moto_server no arrancó (ver $dir/moto.log)"
    python3 - "$url" <<'EOF'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="bench",
             aws_secret_access_key="bench", region_name="eu-west-1").create_bucket(
    Bucket="aula-bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
EOF
    env+=(AULA_S3_BUCKET=aula-bench AULA_S3_ENDPOINT="$url" AULA_S3_REGION=eu-west-1
      AULA_S3_PATH_STYLE=1 AULA_S3_ACCESS_KEY=bench AULA_S3_SECRET_KEY=bench)
  fi
  local common=(--data-dir "$dir/data" --courses-dir "$OUT/courses" --media-dir "$OUT/media")
  log "$store: importando el curso (publica el video)"
  (cd "$dir" && "${env[@]}" "$BIN" "${common[@]}" import-courses) >"$dir/import.log" 2>&1 \
    || die "no se pudo importar (ver $dir/import.log)"
  (cd "$dir" && "${env[@]}" "$BIN" "${common[@]}" media check) >>"$dir/import.log" 2>&1 \
    || die "aula media check falló (ver $dir/import.log)"
  log "$store: arrancando aula serve en $AULA"
  (cd "$dir" && exec "${env[@]}" AULA_NO_DEMO=true RUST_LOG=warn "${SERVER_CPU[@]}" "$BIN" "${common[@]}" \
    serve --listen "127.0.0.1:$AULA_PORT") >"$dir/aula.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "$AULA/readyz" 120 || die "aula no quedó lista (ver $dir/aula.log)"
  local got
  got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H 'Range: bytes=0-99' "$AULA$path")
  [[ $got == "206 100" ]] || die "$store: el video no se sirve por rangos ($got)"
  local before
  before=$(rss_kb "$pid" VmRSS)
  log "$store: wrk -c $CLIENTS -t $THREADS -d $DURATION, rangos de $RANGE_KB KB"
  "${LOAD_CPU[@]}" wrk -c "$CLIENTS" -t "$THREADS" -d "$DURATION" --timeout 30s \
    -s "$OUT/ranges.lua" "$AULA" >"$dir/wrk.txt" 2>&1 || die "wrk falló (ver $dir/wrk.txt)"
  local peak rps mbs non2xx errors
  peak=$(rss_kb "$pid" VmHWM)
  rps=$(awk '/^Requests\/sec/ { print $2 }' "$dir/wrk.txt")
  mbs=$(awk '/^Transfer\/sec/ { v = $2; if (v ~ /GB$/) { sub(/GB$/, "", v); v *= 1024 }
    else if (v ~ /MB$/) { sub(/MB$/, "", v) } else if (v ~ /KB$/) { sub(/KB$/, "", v); v /= 1024 }
    printf "%.1f", v }' "$dir/wrk.txt")
  non2xx=$(awk '/Non-2xx/ { print $NF }' "$dir/wrk.txt")
  errors=$(awk '/Socket errors/ { print $0 }' "$dir/wrk.txt")
  cat "$dir/wrk.txt" >&2
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\n' "$store" "$SIZE_MB" "$CLIENTS" "$rps" "$mbs" \
    "${non2xx:-0}" "${errors:-none}" "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')" \
    >>"$RESULTS"
  cleanup
}

for store in $STORES; do
  run_store "$store"
done

log "resultados ($RESULTS)"
column -t -s $'\t' "$RESULTS"
