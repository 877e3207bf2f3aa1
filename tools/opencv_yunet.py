#!/usr/bin/python3
"""Reference YuNet face detector: OpenCV 4.6 DNN running the YuNet ONNX files, decoded in Python.

Prints what `facemask detect --json --no-classify` prints for YuNet, one JSON line per image:

  {"image":"<path>","width":W,"height":H,"faces":[{"box":[x1,y1,x2,y2],"score":0.9876,
   "landmarks":[[x,y],[x,y],[x,y],[x,y],[x,y]]}]}

(on one line; box and landmarks with 2 decimals, score with 4; landmarks in the order right
eye, left eye, nose tip, right mouth corner, left mouth corner, as the network emits them).

Pipeline (the contract the C engine is checked against):
  img   = cv2.imread(path, cv2.IMREAD_COLOR)          # as opencv_detect.py
  scale = det_size / max(H, W)                        # double
  new_w = max(1, int(W * scale + 0.5)), new_h = max(1, int(H * scale + 0.5))
  img   = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
          (skipped when (new_w, new_h) == (W, H))
  PW, PH = new_w, new_h rounded up to multiples of 32: ((n - 1) // 32 + 1) * 32
  padded = cv2.copyMakeBorder(img, 0, PH - new_h, 0, PW - new_w, BORDER_CONSTANT, 0)
  blob   = cv2.dnn.blobFromImage(padded)              # 1x3xPHxPW float32, BGR, raw 0..255
  net    = cv2.dnn.readNet(model.onnx); forward the 12 outputs cls_8, cls_16, cls_32, obj_*,
           bbox_*, kps_* by name (shapes (1,N,1), (1,N,1), (1,N,4), (1,N,10), N = PH/s * PW/s)
Decode, as OpenCV's modules/objdetect/src/face_detect.cpp (FaceDetectorYNImpl::postProcess),
every operation in float32 (C++ float), strides 8, 16, 32 in that order, rows r then cols c:
  cls = MAX(MIN(cls, 1.f), 0.f);  obj likewise
  score = sqrtf(cls * obj);                        skip the cell if score < conf
  cx = (c + bbox0) * s;  cy = (r + bbox1) * s      (c, r converted to float first)
  w  = expf(bbox2) * s;  h  = expf(bbox3) * s      (expf from the C library, via ctypes)
  x1 = cx - w / 2;       y1 = cy - h / 2
  landmark k = ((kps[2k] + c) * s, (kps[2k+1] + r) * s)
NMS, when at least 2 cells passed (a single cell is returned as it is):
  cv2.dnn.NMSBoxes([(int(x1), int(y1), int(w), int(h))], scores, conf, 0.3, eta=1, top_k=5000)
  - boxes truncated toward zero to integers, as face_detect.cpp builds Rect2i(int(..)) from
    (x1, y1, w, h); IoU of those integer rectangles; a box is dropped when its IoU with an
    already kept box is > 0.3;
  - NMSBoxes itself keeps only score > conf (strictly), stable-sorted by descending score
    (ties: the earlier cell first), at most 5000 candidates; its order is the output order.
Back to the image (the per-axis factors, not `scale`, so that a rounded side maps exactly):
  sx = new_w / W, sy = new_h / H (double);  x2 = x1 + w, y2 = y1 + h (double, from float32)
  box corners / (sx, sy), then clipped to [0, W] x [0, H]; landmarks / (sx, sy), not clipped.

Arguments are image files or directories, expanded exactly as opencv_detect.py does
(recursive walk for .jpg/.jpeg/.png, sorted by path bytes). Nothing but the JSON lines goes
to stdout; --verbose adds "<image> WxH -> new_wxnew_h padded PWxPH" on stderr. An
unreadable image is reported on stderr and makes the exit status 1.

--raw DIR also writes each image's 12 raw output tensors as text, DIR/<stem>.<output>.txt:
a first line "# shape=1,N,C output=<name> input=1,3,PH,PW model=<file> image=<path>", then
one value a line with "%.9g" (enough to round-trip a float32), in C order.

Python here is a developer tool only (fixtures, reference numbers); run it with
/usr/bin/python3 (Debian's, which has cv2).
"""

import argparse
import ctypes
import ctypes.util
import json
import math
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)

REPO_ROOT = opencv_detect.REPO_ROOT
DEFAULT_SHARED = opencv_detect.DEFAULT_SHARED
DEFAULT_MODEL_DIR = os.path.join(DEFAULT_SHARED, "models", "yunet")
MODEL_FILES = {"n": "yunet_n_640_640.onnx", "s": "face_detection_yunet_2023mar.onnx"}

STRIDES = (8, 16, 32)
DIVISOR = 32
OUTPUT_NAMES = ["cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32",
                "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32"]
NMS_THRESHOLD = 0.3   # FaceDetectorYN::create's default
TOP_K = 5000          # FaceDetectorYN::create's default


def _c_expf():
    """The C library's expf (what std::exp(float) calls in face_detect.cpp), or None."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        f = libm.expf
        f.restype = ctypes.c_float
        f.argtypes = [ctypes.c_float]
        return f
    except (OSError, AttributeError):
        return None


_EXPF = _c_expf()


def expf(x):
    """float32 exp of a float32, as C's expf (fallback: exp in double rounded to float32)."""
    if _EXPF is not None:
        return np.float32(_EXPF(float(x)))
    return np.float32(math.exp(float(x)))


def model_path(spec, model_dir=DEFAULT_MODEL_DIR):
    """--model value -> file path: 'n' / 's' name the shared files, anything else is a path."""
    if spec in MODEL_FILES:
        return os.path.join(model_dir, MODEL_FILES[spec])
    return spec


def load_net(path):
    """Load a YuNet ONNX file with cv2.dnn.readNet, on OpenCV's own CPU backend."""
    net = cv2.dnn.readNet(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def input_geometry(w, h, det_size=640):
    """(new_w, new_h, PW, PH) for a WxH image: the resized size and the padded network input."""
    scale = det_size / max(w, h)
    new_w = max(1, int(w * scale + 0.5))
    new_h = max(1, int(h * scale + 0.5))
    pw = ((new_w - 1) // DIVISOR + 1) * DIVISOR
    ph = ((new_h - 1) // DIVISOR + 1) * DIVISOR
    return new_w, new_h, pw, ph


def preprocess(img, det_size=640):
    """Resize + pad + blob; returns (blob 1x3xPHxPW float32, (new_w, new_h, PW, PH))."""
    h, w = img.shape[:2]
    geo = input_geometry(w, h, det_size)
    new_w, new_h, pw, ph = geo
    if (new_w, new_h) != (w, h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(img, 0, ph - new_h, 0, pw - new_w, cv2.BORDER_CONSTANT, value=0)
    return cv2.dnn.blobFromImage(padded), geo


def forward_raw(net, blob):
    """setInput + forward of the 12 outputs by name (what opencv_bench.py times)."""
    net.setInput(blob)
    return net.forward(OUTPUT_NAMES)


def forward(net, blob):
    """The 12 outputs, in OUTPUT_NAMES order, as float32 arrays (copies)."""
    return [np.array(o, dtype=np.float32, copy=True) for o in forward_raw(net, blob)]


def candidates(outs, pw, ph, conf=0.5):
    """The cells of the 12 outputs (PHxPW input) with score >= conf, in face_detect.cpp's
    order (stride 8, 16, 32; row-major), each (x1, y1, w, h, score, [10 landmark coords]) as
    float32 values in network-input pixels."""
    f32 = np.float32
    thr = f32(conf)
    cand = []
    for i, s in enumerate(STRIDES):
        cols = pw // s
        cls = outs[i].reshape(-1)
        obj = outs[i + 3].reshape(-1)
        bbox = outs[i + 6].reshape(-1, 4)
        kps = outs[i + 9].reshape(-1, 10)
        # MIN(v, 1.f) then MAX(v, 0.f), then sqrtf of the float product, all in float32.
        score = np.sqrt(np.maximum(np.minimum(cls, f32(1)), f32(0))
                        * np.maximum(np.minimum(obj, f32(1)), f32(0)))
        fs = f32(s)
        for idx in np.nonzero(~(score < thr))[0]:   # "if (score < scoreThreshold) continue;"
            r, c = divmod(int(idx), cols)
            fc, fr = f32(c), f32(r)
            b = bbox[idx]
            cx = (fc + b[0]) * fs
            cy = (fr + b[1]) * fs
            w = expf(b[2]) * fs
            h = expf(b[3]) * fs
            x1 = cx - w / f32(2)
            y1 = cy - h / f32(2)
            k = kps[idx]
            lm = [((k[2 * n] + fc) * fs, (k[2 * n + 1] + fr) * fs) for n in range(5)]
            cand.append((x1, y1, w, h, score[idx], [v for p in lm for v in p]))
    return cand


def nms_rect(face):
    """face_detect.cpp's Rect2i(int(x1), int(y1), int(w), int(h)): C casts truncate toward
    zero, as int() does."""
    return (int(face[0]), int(face[1]), int(face[2]), int(face[3]))


def nms(cand, conf=0.5):
    """face_detect.cpp: NMSBoxes when there are at least 2 candidates, else them as they are."""
    if len(cand) <= 1:
        return cand
    keep = cv2.dnn.NMSBoxes([nms_rect(f) for f in cand], [float(f[4]) for f in cand],
                            float(np.float32(conf)), NMS_THRESHOLD, eta=1.0, top_k=TOP_K)
    return [cand[int(k)] for k in np.array(keep).reshape(-1)]


def decode(outs, pw, ph, conf=0.5):
    """face_detect.cpp's postProcess: the kept faces, best first, in network-input pixels."""
    return nms(candidates(outs, pw, ph, conf), conf)


def to_image(faces, w, h, geo):
    """Network-input faces -> image faces (x1, y1, x2, y2, score, [(x, y)] * 5), per-axis."""
    new_w, new_h = geo[0], geo[1]
    sx = new_w / w
    sy = new_h / h
    clip = opencv_detect._clip
    out = []
    for x1, y1, fw, fh, score, lm in faces:
        x1, y1, fw, fh = float(x1), float(y1), float(fw), float(fh)
        box = (clip(x1 / sx, float(w)), clip(y1 / sy, float(h)),
               clip((x1 + fw) / sx, float(w)), clip((y1 + fh) / sy, float(h)))
        pts = [(float(lm[2 * n]) / sx, float(lm[2 * n + 1]) / sy) for n in range(5)]
        out.append(box + (float(score), pts))
    return out


def detect(net, img, det_size=640, conf=0.5, raw=None):
    """Faces in img, best first; raw, if a list, receives (geometry, 12 outputs)."""
    h, w = img.shape[:2]
    blob, geo = preprocess(img, det_size)
    outs = forward(net, blob)
    if raw is not None:
        raw.extend([geo, outs])
    return to_image(decode(outs, geo[2], geo[3], conf), w, h, geo)


def _fmt(v):
    return "%.2f" % v


def format_line(image, width, height, faces):
    """One JSON line: opencv_detect.py's format plus "landmarks" per face."""
    parts = []
    for x1, y1, x2, y2, score, pts in faces:
        lms = ",".join("[%s,%s]" % (_fmt(x), _fmt(y)) for x, y in pts)
        parts.append('{"box":[%.2f,%.2f,%.2f,%.2f],"score":%.4f,"landmarks":[%s]}'
                     % (x1, y1, x2, y2, score, lms))
    return ('{"image":%s,"width":%d,"height":%d,"faces":[%s]}'
            % (json.dumps(image, ensure_ascii=False), width, height, ",".join(parts)))


def write_raw(raw_dir, image, model_file, geo, outs):
    """DIR/<stem>.<output>.txt for the 12 outputs (see the module docstring)."""
    stem = os.path.splitext(os.path.basename(image))[0]
    for name, arr in zip(OUTPUT_NAMES, outs):
        with open(os.path.join(raw_dir, "%s.%s.txt" % (stem, name)), "w") as f:
            f.write("# shape=%s output=%s input=1,3,%d,%d model=%s image=%s\n"
                    % (",".join(str(d) for d in arr.shape), name, geo[3], geo[2],
                       os.path.basename(model_file), image))
            f.write("".join("%.9g\n" % v for v in arr.reshape(-1).tolist()))


def run(paths, net, det_size=640, conf=0.5, out=sys.stdout, raw_dir=None, model_file="",
        verbose=False):
    """Detect on every path, print the JSON lines; returns the number of failures."""
    failures = 0
    for path in paths:
        img = opencv_detect.read_image(path)
        if img is None:
            print("opencv_yunet: cannot read image: %s" % path, file=sys.stderr)
            failures += 1
            continue
        h, w = img.shape[:2]
        raw = []
        faces = detect(net, img, det_size, conf, raw)
        geo, outs = raw
        if verbose:
            print("%s %dx%d -> %dx%d padded %dx%d" % ((path, w, h) + geo), file=sys.stderr)
        if raw_dir is not None:
            write_raw(raw_dir, path, model_file, geo, outs)
        print(format_line(path, w, h, faces), file=out, flush=False)
    out.flush()
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="OpenCV DNN YuNet reference detector; prints facemask's "
                    "`detect --json --no-classify` lines with landmarks.")
    ap.add_argument("inputs", nargs="+", metavar="IMAGE|DIR",
                    help="image files, or directories walked for .jpg/.jpeg/.png")
    ap.add_argument("--model", default="n",
                    help="n (%s), s (%s) or a path to a YuNet .onnx (default n)"
                         % (MODEL_FILES["n"], MODEL_FILES["s"]))
    ap.add_argument("--model-dir", default=DEFAULT_MODEL_DIR,
                    help="where n and s are looked up (default %s)" % DEFAULT_MODEL_DIR)
    ap.add_argument("--det-size", type=int, default=640,
                    help="the image's longer side is resized to this (default 640)")
    ap.add_argument("--conf", type=float, default=0.5,
                    help="keep faces with score >= CONF (default 0.5; see the docstring "
                         "for NMSBoxes' strict >)")
    ap.add_argument("--threads", type=int, default=None,
                    help="cv2.setNumThreads(N) (default: OpenCV's choice)")
    ap.add_argument("--raw", metavar="DIR", default=None,
                    help="also write the 12 raw outputs per image to DIR/<stem>.<output>.txt")
    ap.add_argument("--verbose", action="store_true",
                    help="print each image's resized and padded input size on stderr")
    a = ap.parse_args(argv)
    if a.det_size < 1:
        ap.error("--det-size must be positive")
    if a.threads is not None:
        cv2.setNumThreads(a.threads)
    path = model_path(a.model, a.model_dir)
    net = load_net(path)
    if a.raw is not None:
        os.makedirs(a.raw, exist_ok=True)
    return 1 if run(opencv_detect.expand_inputs(a.inputs), net, a.det_size, a.conf,
                    raw_dir=a.raw, model_file=path, verbose=a.verbose) else 0


if __name__ == "__main__":
    sys.exit(main())
