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
#   BENCH_CLIENTS   live-view clients (default 0): the dashboard's HTTP server is on and that
#                   many MJPEG streams (curl) are read for the whole run, spread over the
#                   cameras, every other one throttled to 20 kB/s (a slow client); the peak
#                   RSS of the process is printed. tools/bench-live.sh compares 0 and 50.
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
. tools/longrun-lib.sh
clip="$DIR/clip640.mp4"
make_clip "$clip" 640x480 $((SECS + 30))

server_pid=""
client_pids=()
cleanup() {
    for p in "${client_pids[@]}" $server_pid; do kill -TERM "$p" 2> /dev/null || true; done
}
trap cleanup EXIT
start_server "$clip" 0
NCLIENTS=${BENCH_CLIENTS:-0}
http_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

{
    echo "cameras:"
    for i in $(seq 1 "$NCAM"); do
        echo "  - name: cam$i"
        echo "    source: rtsp://127.0.0.1:$port/test"
        [ -n "${BENCH_DET_SIZE:-}" ] && echo "    det-size: $BENCH_DET_SIZE"
    done
    echo "database:"
    echo "  path: $DIR/site.db"
    [ "$NCLIENTS" -gt 0 ] && echo "http: {port: $http_port}"
} > "$DIR/site.yaml"

echo "bench-site: $NCAM cameras on rtsp://127.0.0.1:$port/test (640x480, 25 fps), $THREADS" \
    "workers, ${BENCH_DET_SIZE:-default} det-size, $SECS s; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
"$BIN" bench --site "$DIR/site.yaml" --seconds "$SECS" -j "$THREADS" --model-dir models \
    > "$DIR/result.txt" &
bench_pid=$!
if [ "$NCLIENTS" -gt 0 ]; then
    for _ in $(seq 1 50); do
        curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
        sleep 0.2
    done
    for i in $(seq 1 "$NCLIENTS"); do
        cam=$(((i - 1) % NCAM + 1))
        rate=()
        [ $((i % 2)) -eq 0 ] && rate=(--limit-rate 20k)
        curl -s -o /dev/null "${rate[@]}" --max-time "$SECS" \
            "http://127.0.0.1:$http_port/api/cameras/cam$cam/live.mjpeg" &
        client_pids+=($!)
    done
    sleep 2
    streams=$(curl -s "http://127.0.0.1:$http_port/metrics" |
        awk '/^facemask_live_streams / {n += $2} END {print n + 0}')
    echo "bench-site: $NCLIENTS live-view clients started; the server counts $streams open streams"
fi
peak_kb=0
while kill -0 "$bench_pid" 2> /dev/null; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$bench_pid/status" 2> /dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak_kb" ] && peak_kb=$kb
    sleep 1
done
wait "$bench_pid"
cat "$DIR/result.txt"
echo "bench-site: peak RSS $((peak_kb / 1024)) MB"
total=$(grep 'cameras=' "$DIR/result.txt")
min_fps=$(echo "$total" | sed -n 's/.*min_camera_fps=\([0-9.]*\).*/\1/p')
p90=$(echo "$total" | sed -n 's/.*max_camera_latency_p90_ms=\([0-9.]*\).*/\1/p')
[ "${BENCH_TARGETS:-1}" = 0 ] && exit 0 # bench-live has its own verdict
awk -v f="$min_fps" -v p="$p90" 'BEGIN {
    printf "bench-site: slowest camera %.2f fps (target >= 15): %s; worst p90 latency %.1f ms (target < 200): %s\n",
        f, (f >= 15 ? "met" : "NOT met"), p, (p < 200 ? "met" : "NOT met") }'
