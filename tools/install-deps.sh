#!/bin/sh
# Installs the Debian 12 packages facemask needs to build and test, if any is missing.
# Runs apt-get as root (through sudo when not root already). clang and libclang-rt-14-dev
# (libFuzzer, the sanitizer runtimes) are for make fuzz / fuzz-smoke. python3-opencv (OpenCV 4.6
# for /usr/bin/python3) runs OpenCV on models facemask writes, in the test suite (test_onnx_write);
# python3 runs the ctypes example (examples/detect.py) in the install test.
# libyaml-dev and libsqlite3-dev: the site configuration and history (src/site/).
# libmosquitto-dev, libmicrohttpd-dev, libcrypt-dev: `facemask serve` (src/serve/); mosquitto and
# mosquitto-clients: the real broker its tests start on 127.0.0.1 (openssl makes their TLS
# certificates); chromium: the dashboard test.
set -eu
PKGS="build-essential pkg-config python3 libjpeg62-turbo-dev libpng-dev libfreetype-dev fonts-dejavu-core libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev ffmpeg libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good libsdl2-dev xvfb x11-apps clang libclang-rt-14-dev python3-opencv libyaml-dev libsqlite3-dev libmosquitto-dev libmicrohttpd-dev libcrypt-dev mosquitto mosquitto-clients openssl chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present ($PKGS)"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
