#!/bin/bash
# Times facemask's engine and OpenCV 4.6 DNN (Debian's python3-opencv) on the
# same model files, the same input photo and the same thread count, alternating
# the two for each thread count, and prints the ratio (OpenCV time / facemask
# time: above 1 means facemask is faster).
#
#   tools/bench_vs_opencv.sh [--image PATH] [--runs N] [--threads 1,2] [--classifier DIR]
#                            [--detector res10|yunet] [--yunet-model n|s] [--fm-args "ARGS"]
# The mask classifier (default models/mask) is timed too: its forward pass on one face.
# --detector yunet runs `build/facemask bench --detector yunet ...` and compares its
# "yunet forward ... median_ms=" / "yunet preprocess ... median_ms=" lines with OpenCV's
# yunet (--yunet-model n, yunet_n_640_640.onnx) or yunet_s (--yunet-model s) stages: the
# photo resized to 640 on its longer side and padded to multiples of 32. --fm-args adds
# arguments to the facemask command line (e.g. whatever selects YuNet-s there).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FM_SHARED:-../shared}"
IMAGE="$SHARED/demo/pyimagesearch_example_01.png"
RUNS=50
THREADS=1,2
CLASSIFIER=models/mask
DETECTOR=res10
YUNET_MODEL=n
FM_ARGS=
while [ $# -gt 0 ]; do
    case "$1" in
    --image) IMAGE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --classifier) CLASSIFIER=$2; shift 2 ;;
    --detector) DETECTOR=$2; shift 2 ;;
    --yunet-model) YUNET_MODEL=$2; shift 2 ;;
    --fm-args) FM_ARGS=$2; shift 2 ;;
    *) echo "usage: $0 [--image PATH] [--runs N] [--threads 1,2] [--classifier DIR] [--detector res10|yunet] [--yunet-model n|s] [--fm-args ARGS]" >&2; exit 2 ;;
    esac
done
case "$DETECTOR" in res10|yunet) ;; *) echo "$0: --detector res10 or yunet" >&2; exit 2 ;; esac
case "$YUNET_MODEL" in n) CV_YUNET=yunet ;; s) CV_YUNET=yunet_s ;; *) echo "$0: --yunet-model n or s" >&2; exit 2 ;; esac
[ -x build/facemask ] || make -j"$(nproc)" build/facemask
PY=/usr/bin/python3
$PY -c 'import cv2' 2>/dev/null || { echo "needs python3-opencv (apt-get install python3-opencv)" >&2; exit 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -1; }
echo "image=$IMAGE runs=$RUNS cpus=$(nproc) opencv=$($PY -c 'import cv2; print(cv2.__version__)')"
# ratio NAME THREADS FACEMASK_MS OPENCV_MS DECIMALS: one comparison line (n/a if a side is missing)
ratio() {
    awk -v n="$1" -v t="$2" -v a="$3" -v b="$4" -v d="$5" 'BEGIN {
        if (a == "" || b == "" || a + 0 <= 0) {
            printf "%s threads=%s facemask_ms=%s opencv_ms=%s ratio=n/a\n", n, t, (a == "" ? "n/a" : a), (b == "" ? "n/a" : b);
        } else {
            printf "%s threads=%s facemask_ms=%." d "f opencv_ms=%." d "f ratio=%.2f\n", n, t, a, b, b / a;
        }
    }'
}
if [ "$DETECTOR" = yunet ]; then
    for t in ${THREADS//,/ }; do
        # shellcheck disable=SC2086  # FM_ARGS is split on purpose
        fm=$(build/facemask bench --detector yunet --image "$IMAGE" --threads "$t" --runs "$RUNS" --classifier "$CLASSIFIER" $FM_ARGS)
        cv=$($PY tools/opencv_bench.py --image "$IMAGE" --threads "$t" --runs "$RUNS" --models "$CV_YUNET,mask" --classifier "$CLASSIFIER")
        ratio "yunet forward    " "$t" "$(echo "$fm" | grep "yunet forward" | field median_ms)" \
            "$(echo "$cv" | grep "opencv $CV_YUNET threads" | field median_ms)" 2
        ratio "yunet preprocess " "$t" "$(echo "$fm" | grep "yunet preprocess" | field median_ms)" \
            "$(echo "$cv" | grep "opencv ${CV_YUNET}_preprocess" | field median_ms)" 3
        ratio "mask forward     " "$t" "$(echo "$fm" | grep -E "mask[0-9]+ forward" | field median_ms)" \
            "$(echo "$cv" | grep "opencv mask threads" | field median_ms)" 2
    done
    exit 0
fi
for t in ${THREADS//,/ }; do
    fm=$(build/facemask bench --detector res10 --image "$IMAGE" --threads "$t" --runs "$RUNS" --classifier "$CLASSIFIER")
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
