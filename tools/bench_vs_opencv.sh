#!/bin/bash
# Times facemask's engine and OpenCV 4.6 DNN (Debian's python3-opencv) on the
# same model files, the same input photo and the same thread count, alternating
# the two for each thread count, and prints the ratio (OpenCV time / facemask
# time: above 1 means facemask is faster).
#
#   tools/bench_vs_opencv.sh [--image PATH] [--runs N] [--threads 1,2] [--classifier DIR]
# The mask classifier (default models/mask) is timed too: its forward pass on one face.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FM_SHARED:-../shared}"
IMAGE="$SHARED/demo/pyimagesearch_example_01.png"
RUNS=50
THREADS=1,2
CLASSIFIER=models/mask
while [ $# -gt 0 ]; do
    case "$1" in
    --image) IMAGE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --classifier) CLASSIFIER=$2; shift 2 ;;
    *) echo "usage: $0 [--image PATH] [--runs N] [--threads 1,2]" >&2; exit 2 ;;
    esac
done
[ -x build/facemask ] || make -j"$(nproc)" build/facemask
PY=/usr/bin/python3
$PY -c 'import cv2' 2>/dev/null || { echo "needs python3-opencv (apt-get install python3-opencv)" >&2; exit 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -1; }
echo "image=$IMAGE runs=$RUNS cpus=$(nproc) opencv=$($PY -c 'import cv2; print(cv2.__version__)')"
for t in ${THREADS//,/ }; do
    fm=$(build/facemask bench --image "$IMAGE" --threads "$t" --runs "$RUNS" --classifier "$CLASSIFIER")
    cv=$($PY tools/opencv_bench.py --image "$IMAGE" --threads "$t" --runs "$RUNS" --models res10,mask --classifier "$CLASSIFIER")
    fm_fwd=$(echo "$fm" | grep "res10 forward" | field median_ms)
    cv_fwd=$(echo "$cv" | grep "opencv res10 threads" | field median_ms)
    fm_pre=$(echo "$fm" | grep "res10 preprocess" | field median_ms)
    cv_pre=$(echo "$cv" | grep "opencv res10_preprocess" | field median_ms)
    fm_cls=$(echo "$fm" | grep -E "mask[0-9]+ forward" | field median_ms)
    cv_cls=$(echo "$cv" | grep "opencv mask threads" | field median_ms)
    awk -v t="$t" -v a="$fm_fwd" -v b="$cv_fwd" -v c="$fm_pre" -v d="$cv_pre" -v e="$fm_cls" -v f="$cv_cls" 'BEGIN {
        printf "res10 forward    threads=%s facemask_ms=%.2f opencv_ms=%.2f ratio=%.2f\n", t, a, b, b / a;
        printf "res10 preprocess threads=%s facemask_ms=%.3f opencv_ms=%.3f ratio=%.2f\n", t, c, d, d / c;
        printf "mask forward     threads=%s facemask_ms=%.2f opencv_ms=%.2f ratio=%.2f\n", t, e, f, f / e;
    }'
done
