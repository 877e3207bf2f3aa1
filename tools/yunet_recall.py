#!/usr/bin/python3
"""Face recall of a detector on the mask_det scene photos against their PASCAL VOC boxes.

By default runs tools/opencv_yunet.py's reference (OpenCV 4.6 + YuNet) on every image of
<shared>/data/mask_det/images; with --detections FILE it scores existing `detect --json`
lines instead (e.g. facemask's own output, or opencv_detect.py's res10), so the C engine can
be measured the same way. Prints one line per group:

  recall group=all faces=1974 matched=1700 recall=0.8612
  recall group=width_0-16 ...      (ground-truth box width in px: [0,16) [16,32) [32,64) [64,inf))
  recall group=with_mask ...       (one line per VOC label: with_mask, without_mask,
                                    mask_weared_incorrect)
  recall group=all_but_incorrect ...   (mask_weared_incorrect left out, as facemask eval
                                        treats those boxes as ignore regions)
and '#' lines with the settings and the detection count (unmatched detections included).

Matching is facemask eval's face recall (src/eval/metrics.c, match_detections): all
detections of all images ranked by descending score; each takes the ground-truth box of its
image with the highest IoU (continuous, no +1); a true positive if that IoU >= --iou and the
box is not already taken. VOC boxes are used as written, clamped to the image size
(src/data/voc.c); every label counts as a face here. Images are matched to annotations by
file stem.
"""

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)
import opencv_yunet  # noqa: E402

IMAGES = os.path.join("data", "mask_det", "images")
ANNOTATIONS = os.path.join("data", "mask_det", "annotations")
WIDTH_BINS = [(0, 16), (16, 32), (32, 64), (64, float("inf"))]
LABELS = ["with_mask", "without_mask", "mask_weared_incorrect"]


def read_voc(path):
    """[(label, (x1, y1, x2, y2))] of a VOC file, boxes clamped to <size>."""
    root = ET.parse(path).getroot()
    w = float(root.findtext("size/width") or 0)
    h = float(root.findtext("size/height") or 0)
    out = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        b = [float(bb.findtext(k).strip()) for k in ("xmin", "ymin", "xmax", "ymax")]
        lim = [w, h, w, h]
        b = [min(max(v, 0.0), lim[i]) if lim[i] > 0 else v for i, v in enumerate(b)]
        out.append((obj.findtext("name").strip(), tuple(b)))
    return out


def iou(a, b):
    """src/eval/metrics.c fm_eval_iou."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    wa, ha, wb, hb = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    area_a = wa * ha if wa > 0 and ha > 0 else 0.0
    area_b = wb * hb if wb > 0 and hb > 0 else 0.0
    uni = area_a + area_b - inter
    return inter / uni if uni > 0 else 0.0


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def run_reference(shared, model, det_size, conf):
    """{stem: [(x1, y1, x2, y2, score)]} from opencv_yunet on every mask_det image."""
    net = opencv_yunet.load_net(opencv_yunet.model_path(model,
                                                        os.path.join(shared, "models", "yunet")))
    dets = {}
    for path in opencv_detect.expand_inputs([os.path.join(shared, IMAGES)]):
        img = opencv_detect.read_image(path)
        if img is None:
            raise SystemExit("yunet_recall: cannot read %s" % path)
        dets[stem(path)] = [f[:5] for f in opencv_yunet.detect(net, img, det_size, conf)]
    return dets


def read_detections(path):
    dets = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rec = json.loads(line)
            dets[stem(rec["image"])] = [tuple(fc["box"]) + (fc["score"],) for fc in rec["faces"]]
    return dets


def recall(dets, gts, iou_thr):
    """Greedy VOC matching; returns {stem: [matched flag per ground-truth box]}."""
    ranked = sorted(((d[4], s, k) for s, ds in dets.items() if s in gts
                     for k, d in enumerate(ds)), key=lambda t: -t[0])   # stable, as qsort+idx
    taken = {s: [False] * len(g) for s, g in gts.items()}
    for _, s, k in ranked:
        box = dets[s][k]
        best, best_k = -1.0, -1
        for j, (_, g) in enumerate(gts[s]):
            v = iou(box, g)
            if v > best:
                best, best_k = v, j
        if best >= iou_thr and not taken[s][best_k]:
            taken[s][best_k] = True
    return taken


def main(argv=None):
    ap = argparse.ArgumentParser(description="Face recall on mask_det against its VOC boxes.")
    ap.add_argument("--model", default="n", help="n, s or a YuNet .onnx path (default n)")
    ap.add_argument("--det-size", type=int, default=640, help="default 640")
    ap.add_argument("--conf", type=float, default=0.5, help="default 0.5")
    ap.add_argument("--iou", type=float, default=0.5, help="match threshold (default 0.5)")
    ap.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads(N)")
    ap.add_argument("--detections", metavar="FILE.jsonl", default=None,
                    help="score these detect --json lines instead of running OpenCV")
    ap.add_argument("--shared", default=opencv_detect.DEFAULT_SHARED,
                    help="shared folder (default %s)" % opencv_detect.DEFAULT_SHARED)
    a = ap.parse_args(argv)
    if a.threads is not None:
        cv2.setNumThreads(a.threads)

    ann_dir = os.path.join(a.shared, ANNOTATIONS)
    gts = {stem(n): read_voc(os.path.join(ann_dir, n))
           for n in sorted(os.listdir(ann_dir)) if n.endswith(".xml")}
    if a.detections:
        dets = read_detections(a.detections)
        source = a.detections
    else:
        dets = run_reference(a.shared, a.model, a.det_size, a.conf)
        source = "opencv_yunet model=%s det_size=%d conf=%g" % (a.model, a.det_size, a.conf)
    missing = sorted(set(gts) - set(dets))
    taken = recall(dets, gts, a.iou)

    n_det = sum(len(d) for s, d in dets.items() if s in gts)
    n_tp = sum(sum(t) for t in taken.values())
    print("# source: %s; iou=%g; images=%d (without detections listed: %d); detections=%d "
          "(%d unmatched)" % (source, a.iou, len(gts), len(missing), n_det, n_det - n_tp))
    groups = [("all", lambda lab, b: True)]
    groups += [("width_%d-%s" % (lo, "inf" if hi == float("inf") else "%d" % hi),
                (lambda lo, hi: lambda lab, b: lo <= b[2] - b[0] < hi)(lo, hi))
               for lo, hi in WIDTH_BINS]
    groups += [(lab, (lambda l: lambda lab, b: lab == l)(lab)) for lab in LABELS]
    groups.append(("all_but_incorrect", lambda lab, b: lab != "mask_weared_incorrect"))
    for name, pred in groups:
        n = m = 0
        for s, g in gts.items():
            for (lab, b), t in zip(g, taken[s]):
                if pred(lab, b):
                    n += 1
                    m += t
        print("recall group=%s faces=%d matched=%d recall=%s"
              % (name, n, m, "%.4f" % (m / n) if n else "n/a"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
