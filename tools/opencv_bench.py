#!/usr/bin/python3
"""Time OpenCV 4.6 DNN on the models facemask reimplements, for comparison with the C engine.

For each thread count (cv2.setNumThreads(n)) and each stage, runs --warmup untimed runs,
then --runs timed ones (time.perf_counter), and prints one line per stage:

  opencv res10 threads=1 median_ms=12.345 p10_ms=12.001 p90_ms=13.210 runs=50
  opencv res10_preprocess threads=1 median_ms=0.321 p10_ms=... p90_ms=... runs=50

  res10             net.setInput(blob) + net.forward()   (300x300 input)
  res10_preprocess  cv2.dnn.blobFromImage(img, 1.0, (300,300), (104,177,123)) on the
                    decoded image (decoding is not timed)

Lines starting with '#' describe the setup (OpenCV version, image, CPU count). To add a
model, write a `stages_<model>(image)` function returning [(stage name, callable)] and
register it in MODELS.
"""

import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)

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
MODELS = {"res10": stages_res10, "mask": stages_mask}


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
    ap.add_argument("--models", default="res10",
                    help="comma-separated models to time (available: %s)" % ",".join(MODELS))
    a = ap.parse_args(argv)
    globals()["CLASSIFIER_DIR"] = a.classifier

    img = opencv_detect.read_image(a.image)
    if img is None:
        print("opencv_bench: cannot read image: %s" % a.image, file=sys.stderr)
        return 2
    threads = [int(t) for t in a.threads.split(",") if t]
    models = [m for m in a.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            ap.error("unknown model %r (available: %s)" % (m, ",".join(MODELS)))

    print("# opencv %s numpy %s image=%s %dx%d cpus=%d runs=%d warmup=%d"
          % (cv2.__version__, np.__version__, a.image, img.shape[1], img.shape[0],
             os.cpu_count(), a.runs, a.warmup))
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
