#!/bin/bash
# bench-live.sh - issue 9's live-view target: 50 concurrent MJPEG clients (half of them slow)
# for 30 s leave the pipelines' fps within 10% of a run without clients, with memory bounded.
# Two runs of tools/bench-site.sh, 2 cameras from the test RTSP server, without and with the
# clients; prints both and the verdict. `make bench-live`. Run it on an idle machine.
#   BENCH_SECONDS  length of each run (default 30); BENCH_CLIENTS (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-30}
N=${BENCH_CLIENTS:-50}
DIR=${BENCH_DIR:-build/bench-live}
BENCH_DIR=$DIR BENCH_CAMERAS=2 BENCH_SECONDS=$SECS BENCH_CLIENTS=0 BENCH_TARGETS=0 tools/bench-site.sh |
    tee "$DIR.none.txt"
BENCH_DIR=$DIR BENCH_CAMERAS=2 BENCH_SECONDS=$SECS BENCH_CLIENTS=$N BENCH_TARGETS=0 \
    tools/bench-site.sh |
    tee "$DIR.clients.txt"
fps() { sed -n 's/.*min_camera_fps=\([0-9.]*\).*/\1/p' "$1"; }
rss() { sed -n 's/^bench-site: peak RSS \([0-9]*\) MB/\1/p' "$1"; }
awk -v a="$(fps "$DIR.none.txt")" -v b="$(fps "$DIR.clients.txt")" -v ra="$(rss "$DIR.none.txt")" \
    -v rb="$(rss "$DIR.clients.txt")" -v n="$N" 'BEGIN {
    d = a > 0 ? (b - a) / a * 100 : -100
    printf "bench-live: slowest camera %.2f fps without clients, %.2f fps with %d (%+.1f%%, target within 10%%): %s\n",
        a, b, n, d, (d >= -10 ? "met" : "NOT met")
    printf "bench-live: peak RSS %d MB without clients, %d MB with %d (%+d MB)\n", ra, rb, n, rb - ra }'
