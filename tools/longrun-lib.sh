# longrun-lib.sh - shared by the long-run scripts (soak.sh, soak-serve.sh, bench-site.sh); source
# it after setting DIR (work folder), SHARED (the shared folder) and SERVER (build/rtsp_server).
#
#   make_clip OUT SIZE SECONDS   the demo clip looped to at least SECONDS, scaled to SIZE
#                                (WxH), H.264 at 25 fps with a keyframe a second; kept
#                                between runs while its settings are the same
#   start_server CLIP PORT       serves CLIP at rtsp://127.0.0.1:PORT/test (PORT 0: any free
#                                one); sets server_pid and port; its stderr goes to
#                                $DIR/server.log
#   rss_growth NAME TSV WARMUP   from a table of "t_s rss_mb" rows (a header first): prints
#                                "NAME: RSS after warm-up ..., at the end ... (growth ...), peak
#                                ..." and sets growth (MB, from the first sample at or after
#                                WARMUP seconds to the last)

make_clip() {
    local out=$1 size=$2 secs=$3
    local loops=$((secs * 25 / 104 + 1)) want
    want="$size $loops"
    if [ ! -s "$out" ] || [ "$(cat "$out.settings" 2>/dev/null)" != "$want" ]; then
        ffmpeg -nostdin -v error -y -stream_loop "$loops" \
            -i "$SHARED/demo/uengmim_test_video.avi" -vf "scale=${size/x/:}" -r 25 \
            -c:v libx264 -preset ultrafast -g 25 -bf 0 -pix_fmt yuv420p "$out"
        echo "$want" > "$out.settings"
    fi
}

start_server() {
    local clip=$1 fifo="$DIR/server.fifo" line=""
    rm -f "$fifo"
    mkfifo "$fifo"
    "$SERVER" "$clip" "$2" > "$fifo" 2>> "$DIR/server.log" &
    server_pid=$!
    read -r -t 10 line < "$fifo" || true
    rm -f "$fifo"
    case "$line" in
    ready\ *) port=${line#ready } ;;
    *) echo "$(basename "$0"): $SERVER did not start (said '$line')" >&2; exit 1 ;;
    esac
}

rss_growth() {
    awk -v name="$1" -v warm="$3" 'NR > 1 {
            if ($1 >= warm && !have) { base = $2; have = 1 }
            if ($2 > max) max = $2
            last = $2
        }
        END {
            if (!have) base = last
            printf "%s: RSS after warm-up %.1f MB, at the end %.1f MB (growth %+.1f MB), peak %.1f MB\n",
                name, base, last, last - base, max
            printf "%.1f\n", last - base > "/dev/stderr"
        }' "$2" 2> "$DIR/growth"
    growth=$(cat "$DIR/growth")
}
