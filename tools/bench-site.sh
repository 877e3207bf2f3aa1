#!/bin/bash
# bench-site.sh - issue 9's throughput target: `facemask bench --site` on 4 cameras, each an RTSP
# stream of the demo clip (640x480, 25 fps, real time) from the test RTSP server, with the
# default detector and the history on. Prints each camera's processed fps, skipped frames and
# latency (frame read to events written), then the verdict against the targets: at least 15
# processed fps per camera, latency p90 under 200 ms. `make bench-site`. Run it on an idle
# machine.
#
#   BENCH_CAMERAS   cameras (default 4)       BENCH_SECONDS  length of the run (default 60)
#   BENCH_THREADS   inference workers (default 2)
#   BENCH_DET_SIZE  the detector's long side (default: the detector's own, 640)
#   BENCH_DIR       work folder (default build/bench-site); FM_SHARED the shared folder
set -euo pipefail
cd "$(dirname "$0")/.."

NCAM=${BENCH_CAMERAS:-4}
SECS=${BENCH_SECONDS:-60}
THREADS=${BENCH_THREADS:-2}
DIR=${BENCH_DIR:-build/bench-site}
SHARED=${FM_SHARED:-../shared}
BIN=${FM_BIN:-build/facemask}
SERVER=build/rtsp_server

mkdir -p "$DIR"
rm -f "$DIR"/site.db* "$DIR"/server.log
. tools/rtsp-lib.sh
clip="$DIR/clip640.mp4"
make_clip "$clip" 640x480 $((SECS + 30))

server_pid=""
trap '[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null; true' EXIT
start_server "$clip" 0

{
    echo "cameras:"
    for i in $(seq 1 "$NCAM"); do
        echo "  - name: cam$i"
        echo "    source: rtsp://127.0.0.1:$port/test"
        [ -n "${BENCH_DET_SIZE:-}" ] && echo "    det-size: $BENCH_DET_SIZE"
    done
    echo "database:"
    echo "  path: $DIR/site.db"
} > "$DIR/site.yaml"

echo "bench-site: $NCAM cameras on rtsp://127.0.0.1:$port/test (640x480, 25 fps), $THREADS" \
    "workers, ${BENCH_DET_SIZE:-default} det-size, $SECS s; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
"$BIN" bench --site "$DIR/site.yaml" --seconds "$SECS" -j "$THREADS" --model-dir models |
    tee "$DIR/result.txt"
total=$(grep 'cameras=' "$DIR/result.txt")
min_fps=$(echo "$total" | sed -n 's/.*min_camera_fps=\([0-9.]*\).*/\1/p')
p90=$(echo "$total" | sed -n 's/.*max_camera_latency_p90_ms=\([0-9.]*\).*/\1/p')
awk -v f="$min_fps" -v p="$p90" 'BEGIN {
    printf "bench-site: slowest camera %.2f fps (target >= 15): %s; worst p90 latency %.1f ms (target < 200): %s\n",
        f, (f >= 15 ? "met" : "NOT met"), p, (p < 200 ? "met" : "NOT met") }'
