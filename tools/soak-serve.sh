#!/bin/bash
# soak-serve.sh - issue 9's long run: `facemask serve` with 2 cameras (the test RTSP server, in
# real time) for 30 minutes, the history, the dashboard's HTTP server and MQTT on, while the
# broker (a real mosquitto on 127.0.0.1) is stopped for 20 s and restarted twice. Reports serve's
# RSS over time and its growth after the warm-up (limit 5 MB), and checks that no event is lost:
# every row of the history is marked sent (acknowledged by the broker), and a subscriber with a
# persistent session received every row's id, in order per camera. `make soak-serve`.
#
#   SOAK_SECONDS   length of the run (default 1800)
#   SOAK_SAMPLE    seconds between RSS samples (default 30)
#   SOAK_WARMUP    seconds of warm-up before RSS growth is measured (default 300)
#   SOAK_MAX_GROWTH_MB  RSS growth after warm-up that fails the run (default 5, the issue's)
#   SOAK_DIR       work folder (default build/soak-serve); FM_SHARED the shared folder
# Exit status 0 when every check holds. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL=${SOAK_SECONDS:-1800}
SAMPLE=${SOAK_SAMPLE:-30}
WARMUP=${SOAK_WARMUP:-300}
MAX_GROWTH_MB=${SOAK_MAX_GROWTH_MB:-5}
DIR=${SOAK_DIR:-build/soak-serve}
SHARED=${FM_SHARED:-../shared}
BIN=${FM_BIN:-build/facemask}
SERVER=build/rtsp_server
DOWN_S=20

mkdir -p "$DIR"
rm -rf "$DIR"/site.db* "$DIR"/*.log "$DIR"/rss.tsv "$DIR"/received.txt "$DIR"/broker
mkdir -p "$DIR/broker"
. tools/longrun-lib.sh
clip="$DIR/clip.mp4"
make_clip "$clip" 320x240 $((SECONDS_TOTAL + 60))

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_pid=""
serve_pid=""
broker_pid=""
sub_pid=""
cleanup() {
    for p in "$serve_pid" "$sub_pid" "$broker_pid" "$server_pid"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

mqtt_port=$(free_port)
http_port=$(free_port)
cat > "$DIR/broker/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $PWD/$DIR/broker/
log_dest file $PWD/$DIR/broker/mosquitto.log
user $(id -un)
CONF
start_broker() {
    /usr/sbin/mosquitto -c "$DIR/broker/mosquitto.conf" > /dev/null 2>&1 &
    broker_pid=$!
    for _ in $(seq 1 50); do
        mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t soak/ping -m x 2> /dev/null && return
        sleep 0.1
    done
    echo "soak-serve: mosquitto did not start on port $mqtt_port" >&2
    exit 1
}
start_broker
# the subscriber: a persistent session (-c -i) at QoS 1, so what is published while it
# reconnects after a broker restart is kept for it; mosquitto_sub reconnects by itself
mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -q 1 -c -i soak-serve-sub -t 'facemask/+/events' \
    -F '%t %p' > "$DIR/received.txt" 2> "$DIR/sub.log" &
sub_pid=$!
sleep 1

start_server "$clip" 0
cat > "$DIR/site.yaml" <<YAML
cameras:
  - {name: door, source: "rtsp://127.0.0.1:$port/test"}
  - {name: hall, source: "rtsp://127.0.0.1:$port/test"}
mqtt: {host: 127.0.0.1, port: $mqtt_port, node: soak}
http: {port: $http_port}
database: {path: $DIR/site.db}
YAML

"$BIN" serve --config "$DIR/site.yaml" --model-dir models --duration "$SECONDS_TOTAL" \
    > /dev/null 2> "$DIR/serve.log" &
serve_pid=$!
echo "soak-serve: serve (pid $serve_pid), 2 cameras on rtsp://127.0.0.1:$port/test, MQTT on" \
    "$mqtt_port, HTTP on $http_port, for $SECONDS_TOTAL s; the broker is stopped for $DOWN_S s at" \
    "$((SECONDS_TOTAL / 3)) s and $((2 * SECONDS_TOTAL / 3)) s"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status" 2>/dev/null || echo 0; }
printf 't_s\trss_mb\n' > "$DIR/rss.tsv"
start=$(date +%s)
next_sample=0
stops=("$((SECONDS_TOTAL / 3))" "$((2 * SECONDS_TOTAL / 3))")
restarts=0
down_since=""
while kill -0 "$serve_pid" 2>/dev/null; do
    now=$(($(date +%s) - start))
    if [ "$now" -ge "$next_sample" ]; then
        mb=$(echo "$(rss_kb) / 1024" | bc -l)
        printf '%d\t%.1f\n' "$now" "$mb" >> "$DIR/rss.tsv"
        printf 'soak-serve: %5d s  RSS %6.1f MB\n' "$now" "$mb"
        next_sample=$((next_sample + SAMPLE))
    fi
    if [ -z "$down_since" ] && [ "$restarts" -lt 2 ] && [ "$now" -ge "${stops[$restarts]}" ]; then
        kill -TERM "$broker_pid"
        wait "$broker_pid" 2> /dev/null || true
        down_since=$now
        echo "soak-serve: $now s: broker stopped"
    fi
    if [ -n "$down_since" ] && [ "$now" -ge "$((down_since + DOWN_S))" ]; then
        start_broker
        restarts=$((restarts + 1))
        down_since=""
        echo "soak-serve: $now s: broker restarted ($restarts)"
    fi
    sleep 1
done
rc=0
wait "$serve_pid" || rc=$?
serve_pid=""
sleep 3 # the subscriber's last messages
kill -TERM "$sub_pid" 2> /dev/null || true
wait "$sub_pid" 2> /dev/null || true
sub_pid=""

db="$DIR/site.db"
rows=$(sqlite3 "$db" 'SELECT count(*) FROM events')
unsent=$(sqlite3 "$db" 'SELECT count(*) FROM events WHERE sent = 0')
# ids as stored, per camera in order; and as received (first receipt of each id, in order)
sqlite3 "$db" "SELECT camera || ' ' || id FROM events ORDER BY camera, id" > "$DIR/stored.ids"
sed -n 's|^facemask/\([^/]*\)/events .*"id":\([0-9]*\).*|\1 \2|p' "$DIR/received.txt" |
    awk '!seen[$0]++' > "$DIR/received.ids"
dups=$(($(sed -n 's|^facemask/[^/]*/events .*"id":\([0-9]*\).*|\1|p' "$DIR/received.txt" | wc -l) -
    $(wc -l < "$DIR/received.ids")))
for cam in door hall; do
    grep "^$cam " "$DIR/received.ids" > "$DIR/received.$cam" || true
done
cat "$DIR/received.door" "$DIR/received.hall" > "$DIR/received.bycam"
in_order=yes
cmp -s "$DIR/stored.ids" "$DIR/received.bycam" || in_order=no
missing=$(comm -23 <(sort "$DIR/stored.ids") <(sort "$DIR/received.ids") | wc -l)

rss_growth soak-serve "$DIR/rss.tsv" "$WARMUP"
reconnects=$(grep -c 'mqtt.*connect' "$DIR/serve.log" || true)
echo "soak-serve: broker restarts $restarts; serve's MQTT connection messages $reconnects"
echo "soak-serve: events stored $rows, unsent $unsent; received $(wc -l < "$DIR/received.ids")" \
    "distinct ($dups repeats, at-least-once), missing $missing, same order per camera: $in_order"
echo "soak-serve: serve exit status $rc; $(tail -1 "$DIR/serve.log")"

ok=1
[ "$rc" -eq 0 ] || { echo "soak-serve: FAIL: serve exited $rc" >&2; ok=0; }
[ "$restarts" -eq 2 ] || { echo "soak-serve: FAIL: $restarts broker restarts" >&2; ok=0; }
[ "$rows" -gt 0 ] || { echo "soak-serve: FAIL: no events stored" >&2; ok=0; }
[ "$unsent" -eq 0 ] || { echo "soak-serve: FAIL: $unsent events never acknowledged" >&2; ok=0; }
[ "$missing" -eq 0 ] || { echo "soak-serve: FAIL: $missing events not received" >&2; ok=0; }
[ "$in_order" = yes ] || { echo "soak-serve: FAIL: events received out of order" >&2; ok=0; }
awk -v g="$growth" -v m="$MAX_GROWTH_MB" 'BEGIN { exit !(g <= m) }' ||
    { echo "soak-serve: FAIL: RSS grew $growth MB after warm-up (limit $MAX_GROWTH_MB)" >&2; ok=0; }
[ "$ok" -eq 1 ] && echo "soak-serve: OK" || exit 1
