#!/bin/bash
# soak.sh - `facemask watch` for a long time on the test RTSP server (build/rtsp_server), which
# is killed and restarted every SOAK_RESTART seconds, with events and a recording on. Reports
# RSS over time (and its growth after the warm-up), the reconnects, and whether the events
# account for every frame (processed + skipped == decoded in the final summary). `make soak`.
#
#   SOAK_SECONDS   length of the run (default 3600)
#   SOAK_RESTART   seconds between server restarts (default 300)
#   SOAK_SAMPLE    seconds between RSS samples (default 30)
#   SOAK_WARMUP    seconds of warm-up before RSS growth is measured (default: the first
#                  restart + 60 s, so that the one-time cost of the first reconnect, about
#                  1.5 MB of allocator arenas for FFmpeg's new threads, is warm-up, not growth)
#   SOAK_MAX_GROWTH_MB  RSS growth after warm-up that fails the run (default 2, the issue's bound)
#   SOAK_DIR       work folder (default build/soak); FM_SHARED the shared folder (../shared)
# Exit status 0 when every check holds. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL=${SOAK_SECONDS:-3600}
RESTART=${SOAK_RESTART:-300}
SAMPLE=${SOAK_SAMPLE:-30}
WARMUP=${SOAK_WARMUP:-$((RESTART + 60))}
MAX_GROWTH_MB=${SOAK_MAX_GROWTH_MB:-2}
DIR=${SOAK_DIR:-build/soak}
SHARED=${FM_SHARED:-../shared}
BIN=${FM_BIN:-build/facemask}
SERVER=build/rtsp_server

mkdir -p "$DIR"
rm -f "$DIR"/events.jsonl "$DIR"/rec.mp4 "$DIR"/rss.tsv "$DIR"/watch.log "$DIR"/server.log

. tools/longrun-lib.sh
# The demo clip looped to outlast one server lifetime, 320x240, a keyframe a second.
clip="$DIR/clip.mp4"
make_clip "$clip" 320x240 $((RESTART + 30))

server_pid=""
watch_pid=""
cleanup() {
    [ -n "$watch_pid" ] && kill -KILL "$watch_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT

start_server "$clip" 0
url="rtsp://127.0.0.1:$port/test"
"$BIN" watch --source "$url" --model-dir models \
    --quiet --events "$DIR/events.jsonl" --record "$DIR/rec.mp4" \
    --summary-every 10 > /dev/null 2> "$DIR/watch.log" &
watch_pid=$!
echo "soak: watch (pid $watch_pid) on $url for $SECONDS_TOTAL s, server restarted every" \
    "$RESTART s, RSS every $SAMPLE s"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$watch_pid/status" 2>/dev/null || echo 0; }
# RSS split: anonymous (heap, stacks) and file-backed (code and data pages of the libraries)
rss_split_mb() {
    awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {printf "%.1f\t%.1f", a / 1024, f / 1024}' \
        "/proc/$watch_pid/status" 2>/dev/null || printf '0\t0'
}

printf 't_s\trss_mb\tanon_mb\tfile_mb\n' > "$DIR/rss.tsv"
start=$(date +%s)
next_sample=0
next_restart=$RESTART
restarts=0
while :; do
    now=$(($(date +%s) - start))
    [ "$now" -ge "$SECONDS_TOTAL" ] && break
    if ! kill -0 "$watch_pid" 2>/dev/null; then
        echo "soak: watch exited early at $now s:" >&2
        cat "$DIR/watch.log" >&2
        exit 1
    fi
    if [ "$now" -ge "$next_sample" ]; then
        kb=$(rss_kb)
        split=$(rss_split_mb)
        printf '%d\t%.1f\t%s\n' "$now" "$(echo "$kb / 1024" | bc -l)" "$split" >> "$DIR/rss.tsv"
        printf 'soak: %5d s  RSS %6.1f MB (anon, file: %s)\n' "$now" "$(echo "$kb / 1024" | bc -l)" \
            "$(echo "$split" | tr '\t' ' ')"
        next_sample=$((next_sample + SAMPLE))
    fi
    if [ "$now" -ge "$next_restart" ]; then
        kill -KILL "$server_pid"
        wait "$server_pid" 2>/dev/null || true
        sleep 1
        start_server "$clip" "$port"
        restarts=$((restarts + 1))
        echo "soak: $now s: server killed and restarted ($restarts)"
        next_restart=$((next_restart + RESTART))
    fi
    sleep 1
done

kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
watch_pid=""

ev="$DIR/events.jsonl"
last_summary=$(grep '"final":true' "$ev" | tail -1)
field() { echo "$last_summary" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
frames=$(field frame)
skipped=$(field skipped)
decoded=$(field decoded)
reconnects=$(grep -c '"event":"reconnect"' "$ev" || true)
drops=$(grep -c '"event":"source_error"' "$ev" || true)
people=$(field people)
recorded=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries \
    stream=nb_read_packets -of csv=p=0 "$DIR/rec.mp4" || echo "?")
bad_lines=$(grep -vc '^{"event":".*}$' "$ev" || true)

rss_growth soak "$DIR/rss.tsv" "$WARMUP"

echo "soak: server restarts $restarts, drops logged $drops, reconnects $reconnects"
echo "soak: frames processed $frames + skipped $skipped = $((frames + skipped)); decoded $decoded"
echo "soak: recording has $recorded frames; people counted $people; malformed event lines" \
    "$bad_lines; watch exit status $rc"

ok=1
[ "$rc" -eq 0 ] || { echo "soak: FAIL: watch exited $rc" >&2; ok=0; }
[ "$((frames + skipped))" -eq "$decoded" ] || { echo "soak: FAIL: frames unaccounted" >&2; ok=0; }
[ "$reconnects" -ge "$restarts" ] || { echo "soak: FAIL: fewer reconnects than restarts" >&2; ok=0; }
[ "$recorded" = "$frames" ] || { echo "soak: FAIL: recording has $recorded of $frames" >&2; ok=0; }
[ "$bad_lines" -eq 0 ] || { echo "soak: FAIL: malformed event lines" >&2; ok=0; }
awk -v g="$growth" -v m="$MAX_GROWTH_MB" 'BEGIN { exit !(g <= m) }' ||
    { echo "soak: FAIL: RSS grew $growth MB after warm-up (limit $MAX_GROWTH_MB)" >&2; ok=0; }
[ "$ok" -eq 1 ] && echo "soak: OK" || exit 1
