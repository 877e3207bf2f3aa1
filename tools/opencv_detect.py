#!/usr/bin/python3
"""Reference face detector: OpenCV 4.6 DNN running the res10 300x300 SSD.

Prints exactly what `facemask detect --json` prints, one JSON line per image:

  {"image":"<path>","width":W,"height":H,"faces":[{"box":[x1,y1,x2,y2],"score":0.9871}]}

Pipeline (the contract the C engine is checked against):
  img  = cv2.imread(path, cv2.IMREAD_COLOR)      # BGR, 8-bit, EXIF orientation applied,
                                                 # grey replicated to 3 channels, alpha dropped
  blob = cv2.dnn.blobFromImage(img, 1.0, (300, 300), (104.0, 177.0, 123.0))
  rows = net.forward()  -> [image_id, label, conf, x1, y1, x2, y2], corners in [0, 1]
  keep rows with conf >= --conf; corners * ORIGINAL width/height (in double), clipped to
  [0, W] / [0, H]; faces sorted by descending score (stable: ties keep OpenCV's order);
  box printed with 2 decimals, score with 4.

Arguments are image files or directories. A directory is walked recursively for files
ending in .jpg/.jpeg/.png (any letter case); its images are sorted by their printed path
as a byte string, and printed as "<dir>/<relative path>" (no extra '/' is added when the
argument already ends with '/'). A file given explicitly is read whatever its extension.
Arguments are processed in the order given. Nothing but the JSON lines goes to stdout;
an unreadable image is reported on stderr and makes the exit status 1.

Python here is a developer tool only (fixtures, reference numbers); run it with
/usr/bin/python3 (Debian's, which has cv2).
"""

import argparse
import json
import os
import sys

import cv2

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared"))
DEFAULT_MODEL_DIR = os.path.join(DEFAULT_SHARED, "models", "res10")
PROTOTXT = "deploy.prototxt"
CAFFEMODEL = "res10_300x300_ssd_iter_140000.caffemodel"

INPUT_SIZE = (300, 300)
MEAN_BGR = (104.0, 177.0, 123.0)
IMAGE_EXTS = (".jpg", ".jpeg", ".png")


def load_net(model_dir=DEFAULT_MODEL_DIR):
    """Load res10 from model_dir, on OpenCV's own CPU backend (the default one)."""
    net = cv2.dnn.readNetFromCaffe(os.path.join(model_dir, PROTOTXT),
                                   os.path.join(model_dir, CAFFEMODEL))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def read_image(path):
    """cv2.imread as the contract says; returns a HxWx3 uint8 BGR array or None."""
    return cv2.imread(path, cv2.IMREAD_COLOR)


def make_blob(img):
    """The 1x3x300x300 float32 network input."""
    return cv2.dnn.blobFromImage(img, 1.0, INPUT_SIZE, MEAN_BGR)


def _clip(v, hi):
    # Written so that a negative corner becomes +0.0, never -0.0 (which would print "-0.00").
    if not v > 0.0:
        return 0.0
    return hi if v > hi else v


def detect(net, img, conf=0.5):
    """Faces in img as a list of (x1, y1, x2, y2, score) floats, descending score."""
    h, w = img.shape[:2]
    net.setInput(make_blob(img))
    out = net.forward()          # shape (1, 1, N, 7), float32
    faces = []
    for row in out.reshape(-1, 7):
        score = float(row[2])
        if score < conf:
            continue
        x1 = _clip(float(row[3]) * w, float(w))
        y1 = _clip(float(row[4]) * h, float(h))
        x2 = _clip(float(row[5]) * w, float(w))
        y2 = _clip(float(row[6]) * h, float(h))
        faces.append((x1, y1, x2, y2, score))
    faces.sort(key=lambda f: -f[4])   # stable
    return faces


def format_line(image, width, height, faces):
    """One JSON line, byte-for-byte the format facemask prints."""
    parts = ['{"box":[%.2f,%.2f,%.2f,%.2f],"score":%.4f}' % f for f in faces]
    return ('{"image":%s,"width":%d,"height":%d,"faces":[%s]}'
            % (json.dumps(image, ensure_ascii=False), width, height, ",".join(parts)))


def expand_inputs(args):
    """Turn the command-line arguments into the list of image paths to print."""
    paths = []
    for arg in args:
        if not os.path.isdir(arg):
            paths.append(arg)
            continue
        prefix = arg if arg.endswith("/") else arg + "/"
        found = []
        for root, dirs, files in os.walk(arg):
            rel_root = os.path.relpath(root, arg)
            for name in files:
                if name.lower().endswith(IMAGE_EXTS):
                    rel = name if rel_root == "." else rel_root.replace(os.sep, "/") + "/" + name
                    found.append(prefix + rel)
        found.sort(key=os.fsencode)
        paths.extend(found)
    return paths


def run(paths, net, conf, out=sys.stdout):
    """Detect on every path, print the JSON lines; returns the number of failures."""
    failures = 0
    for path in paths:
        img = read_image(path)
        if img is None:
            print("opencv_detect: cannot read image: %s" % path, file=sys.stderr)
            failures += 1
            continue
        h, w = img.shape[:2]
        print(format_line(path, w, h, detect(net, img, conf)), file=out, flush=False)
    out.flush()
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="OpenCV DNN res10 reference detector; prints facemask's `detect --json` lines.")
    ap.add_argument("inputs", nargs="+", metavar="IMAGE|DIR",
                    help="image files, or directories walked for .jpg/.jpeg/.png")
    ap.add_argument("--conf", type=float, default=0.5,
                    help="keep detections with score >= CONF (default 0.5)")
    ap.add_argument("--threads", type=int, default=None,
                    help="cv2.setNumThreads(N) (default: OpenCV's choice)")
    ap.add_argument("--model-dir", default=DEFAULT_MODEL_DIR,
                    help="folder with %s and %s (default %s)" % (PROTOTXT, CAFFEMODEL,
                                                                DEFAULT_MODEL_DIR))
    a = ap.parse_args(argv)
    if a.threads is not None:
        cv2.setNumThreads(a.threads)
    net = load_net(a.model_dir)
    return 1 if run(expand_inputs(a.inputs), net, a.conf) else 0


if __name__ == "__main__":
    sys.exit(main())
