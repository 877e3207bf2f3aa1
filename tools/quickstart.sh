#!/bin/sh
# The quick start: installs what is missing, builds facemask, links the shared
# models into models/, and runs `facemask detect` on the demo photos, writing
# annotated copies to out/demo/ and the detections to out/demo/detections.jsonl.
set -eu
cd "$(dirname "$0")/.."
SHARED="${FM_SHARED:-../shared}"
tools/install-deps.sh
make -j"$(nproc)" build/facemask build/facemask-video.so
make models
mkdir -p out/demo
build/facemask detect --json --out out/demo "$SHARED/demo" | tee out/demo/detections.jsonl
echo "annotated photos in out/demo/"
