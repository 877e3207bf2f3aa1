#!/usr/bin/python3
"""Time OpenCV 4.6 DNN on the models facemask reimplements, for comparison with the C engine.

For each thread count (cv2.setNumThreads(n)) and each stage, runs --warmup untimed runs,
then --runs timed ones (time.perf_counter), and prints one line per stage:

  opencv res10 threads=1 median_ms=12.345 p10_ms=12.001 p90_ms=13.210 runs=50
  opencv res10_preprocess threads=1 median_ms=0.321 p10_ms=... p90_ms=... runs=50

  res10             net.setInput(blob) + net.forward()   (300x300 input)
  res10_preprocess  cv2.dnn.blobFromImage(img, 1.0, (300,300), (104,177,123)) on the
                    decoded image (decoding is not timed)
  yunet             YuNet-n (yunet_n_640_640.onnx): net.setInput(blob) + net.forward() of
                    all 12 outputs by name, the photo resized to --det-size (640) on its
                    longer side and padded to multiples of 32 (a 640x480 photo stays 640x480)
  yunet_preprocess  resize + pad + blobFromImage, as tools/opencv_yunet.py does
  yunet_s, yunet_s_preprocess   the same with YuNet-s (face_detection_yunet_2023mar.onnx)

Unless --default-malloc, glibc's malloc is first told (mallopt) to serve blocks up to 32 MB
from the heap and not to give freed memory back: with its defaults, a 4 MB blob (YuNet's
1x3x544x640) can be mmap'ed and page-faulted afresh on every call, which made
yunet_preprocess 8 ms instead of 1 ms depending on which stage ran first; a C program that
reuses its buffers never pays that.

Lines starting with '#' describe the setup (OpenCV version, image, CPU count). To add a
model, write a `stages_<model>(image)` function returning [(stage name, callable)] and
register it in MODELS.
"""

import argparse
import ctypes
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)
import opencv_yunet  # noqa: E402

DEFAULT_IMAGE = os.path.join(opencv_detect.DEFAULT_SHARED, "demo", "coral_face.jpg")


def stages_res10(img):
    """res10 SSD face detector: preprocess and forward, as opencv_detect.py runs them."""
    net = opencv_detect.load_net()
    blob = opencv_detect.make_blob(img)

    def forward():
        net.setInput(blob)
        net.forward()

    def preprocess():
        opencv_detect.make_blob(img)

    return [("res10", forward), ("res10_preprocess", preprocess)]


DET_SIZE = 640   # --det-size, for the YuNet stages


def _yunet_stages(img, model, name):
    net = opencv_yunet.load_net(opencv_yunet.model_path(model))
    blob, geo = opencv_yunet.preprocess(img, DET_SIZE)
    print("# %s input 1x3x%dx%d (image resized to %dx%d, padded)"
          % (name, geo[3], geo[2], geo[0], geo[1]))

    def forward():
        opencv_yunet.forward_raw(net, blob)

    def preprocess():
        opencv_yunet.preprocess(img, DET_SIZE)

    return [(name, forward), (name + "_preprocess", preprocess)]


def stages_yunet(img):
    """YuNet-n face detector: forward of the 12 outputs, and resize + pad + blob."""
    return _yunet_stages(img, "n", "yunet")


def stages_yunet_s(img):
    """YuNet-s (OpenCV Zoo's 2023mar file): forward of the 12 outputs, and preprocess."""
    return _yunet_stages(img, "s", "yunet_s")


CLASSIFIER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "mask")


def read_cfg(path):
    """classifier.cfg as a dict of strings."""
    cfg = {}
    for line in open(path):
        line = line.split("#")[0].split()
        if len(line) >= 2:
            cfg[line[0]] = line[1:]
    return cfg


def stages_mask(img):
    """facemask's mask classifier (MobileNetV2 + head, Caffe files written by `facemask train`):
    forward on one S x S face, and the preprocessing of a face crop (the biggest face res10
    finds, or the centre of the image)."""
    cfg = read_cfg(os.path.join(CLASSIFIER_DIR, "classifier.cfg"))
    size = int(cfg["input_size"][0])
    net = cv2.dnn.readNetFromCaffe(os.path.join(CLASSIFIER_DIR, "classifier.prototxt"),
                                   os.path.join(CLASSIFIER_DIR, "classifier.caffemodel"))
    h, w = img.shape[:2]
    crop = img[h // 4:3 * h // 4, w // 4:3 * w // 4]

    def preprocess():
        return cv2.dnn.blobFromImage(crop, 1.0 / 128, (size, size), (128, 128, 128), swapRB=True)

    blob = preprocess()

    def forward():
        net.setInput(blob)
        net.forward()

    return [("mask", forward), ("mask_preprocess", preprocess)]


# model name -> function(image) returning [(stage name, zero-argument callable)]
MODELS = {"res10": stages_res10, "mask": stages_mask, "yunet": stages_yunet,
          "yunet_s": stages_yunet_s}


def steady_malloc():
    """mallopt(M_MMAP_THRESHOLD, 32 MB) and mallopt(M_TRIM_THRESHOLD, 64 MB); True if done."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 32 << 20)) and bool(libc.mallopt(-1, 64 << 20))
    except (OSError, AttributeError):
        return False


def time_ms(fn, runs, warmup):
    """Run fn warmup times untimed, then runs times; returns the durations in ms."""
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for k in range(runs):
        t0 = time.perf_counter()
        fn()
        out[k] = (time.perf_counter() - t0) * 1e3
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Benchmark OpenCV DNN on facemask's models.")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts for cv2.setNumThreads (default 1,2)")
    ap.add_argument("--runs", type=int, default=50, help="timed runs per stage (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    ap.add_argument("--image", default=DEFAULT_IMAGE, help="input photo (default %s)"
                    % DEFAULT_IMAGE)
    ap.add_argument("--classifier", default=CLASSIFIER_DIR,
                    help="mask classifier folder for the 'mask' model (default %s)" % CLASSIFIER_DIR)
    ap.add_argument("--det-size", type=int, default=DET_SIZE,
                    help="YuNet stages: longer side of the network input (default %d)" % DET_SIZE)
    ap.add_argument("--models", default="res10",
                    help="comma-separated models to time (available: %s)" % ",".join(MODELS))
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc's malloc thresholds alone (see the docstring)")
    a = ap.parse_args(argv)
    malloc = "default" if a.default_malloc or not steady_malloc() else "steady"
    globals()["CLASSIFIER_DIR"] = a.classifier
    globals()["DET_SIZE"] = a.det_size

    img = opencv_detect.read_image(a.image)
    if img is None:
        print("opencv_bench: cannot read image: %s" % a.image, file=sys.stderr)
        return 2
    threads = [int(t) for t in a.threads.split(",") if t]
    models = [m for m in a.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            ap.error("unknown model %r (available: %s)" % (m, ",".join(MODELS)))

    print("# opencv %s numpy %s image=%s %dx%d cpus=%d runs=%d warmup=%d malloc=%s"
          % (cv2.__version__, np.__version__, a.image, img.shape[1], img.shape[0],
             os.cpu_count(), a.runs, a.warmup, malloc))
    for n in threads:
        cv2.setNumThreads(n)
        for m in models:
            for name, fn in MODELS[m](img):
                t = time_ms(fn, a.runs, a.warmup)
                p10, med, p90 = np.percentile(t, [10, 50, 90])
                print("opencv %s threads=%d median_ms=%.3f p10_ms=%.3f p90_ms=%.3f runs=%d"
                      % (name, n, med, p10, p90, a.runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
