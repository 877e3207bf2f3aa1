#!/bin/sh
# Installs the Debian 12 packages facemask needs to build and test, if any is missing.
# Runs apt-get as root (through sudo when not root already). clang and libclang-rt-14-dev
# (libFuzzer, the sanitizer runtimes) are for make fuzz / fuzz-smoke. python3-opencv (OpenCV 4.6
# for /usr/bin/python3) runs OpenCV on models facemask writes, in the test suite (test_onnx_write);
# python3 runs the ctypes example (examples/detect.py) in the install test.
# libyaml-dev and libsqlite3-dev: the site configuration and history (src/site/); sqlite3 (the
# command) reads the history back in make soak-serve.
# libmosquitto-dev, libmicrohttpd-dev, libcrypt-dev: `facemask serve` (src/serve/); mosquitto and
# mosquitto-clients: the real broker its tests start on 127.0.0.1 (openssl makes their TLS
# certificates); chromium: the dashboard test.
# nodejs and npm (Debian's npm package when nodejs lacks it): `npm ci` in src/serve/web fetches
# the dashboard's chart (uPlot), pinned by its package-lock.json, which the build embeds
# (tools/gen-web-assets.c); curl and openssl: the HTTPS test (a self-signed certificate, a client).
set -eu
PKGS="build-essential pkg-config python3 sqlite3 libjpeg62-turbo-dev libpng-dev libfreetype-dev fonts-dejavu-core libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev ffmpeg libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good libsdl2-dev xvfb x11-apps clang libclang-rt-14-dev python3-opencv libyaml-dev libsqlite3-dev libmosquitto-dev libmicrohttpd-dev libcrypt-dev mosquitto mosquitto-clients chromium nodejs curl openssl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
web_deps() {
    # Debian's nodejs comes without npm (its own package); a NodeSource nodejs has it built in
    if ! command -v npm >/dev/null; then
        [ "$(id -u)" -eq 0 ] && sudo="" || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q npm
    fi
    cd "$(dirname "$0")/../src/serve/web" && npm ci --no-audit --no-fund --ignore-scripts
}
if [ -z "$missing" ]; then
    echo "install-deps: all packages present ($PKGS)"
    web_deps
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
web_deps
