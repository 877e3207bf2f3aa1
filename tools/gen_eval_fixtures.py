#!/usr/bin/python3
"""Golden values for src/eval/metrics.c from an independent numpy implementation.

Writes, into tests/fixtures/eval/ (or --out):
  auc.txt  random seeded score/label lists with ties, and their ROC AUC computed as the
           trapezoidal area under the ROC curve (thresholds at each distinct score),
           not through ranks as the C code does.
  ap.txt   random seeded detection cases (several images, classes 0 and 1, ignore
           regions, duplicates, misses, tied scores) with the VOC AP of each class at
           IoU 0.5 (PASCAL VOC devkit style: a tp/fp row per detection, ignored rows
           left as zeros, all-point interpolated AP) and the class-agnostic face recall.

Formats (one record per line, '#' starts a comment):
  auc.txt:  "case N AUC"  then N lines "SCORE LABEL"
  ap.txt:   "case N_IMAGES AP0 AP1 FACE_RECALL NGT0 NGT1"
            then per image "image N_GT N_DET", N_GT lines "g X1 Y1 X2 Y2 CLS IGNORE"
            and N_DET lines "d X1 Y1 X2 Y2 CLS SCORE"
Numbers are printed with %.17g (exact round trip); undefined values are "nan".
Scores have two decimals (so ties occur) and boxes two decimals.

--check regenerates in memory and exits 1 if the committed files differ.
Usage: /usr/bin/python3 tools/gen_eval_fixtures.py [--out DIR] [--check]
"""

import argparse
import os
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IOU = 0.5


def fmt(x):
    x = float(x)
    return "nan" if np.isnan(x) else "%.17g" % x


def roc_auc_trapezoid(scores, labels):
    """Area under the ROC curve by the trapezoid rule, one ROC point per distinct score."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    p, n = labels.sum(), (~labels).sum()
    if p == 0 or n == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last_of_group = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[last_of_group]
    fps = np.cumsum(~y)[last_of_group]
    tpr = np.r_[0.0, tps / p]
    fpr = np.r_[0.0, fps / n]
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2.0))


def iou_many(box, gts):
    """IoU of one box against rows of gts, continuous coordinates (no +1)."""
    if len(gts) == 0:
        return np.zeros(0)
    iw = np.minimum(box[2], gts[:, 2]) - np.maximum(box[0], gts[:, 0])
    ih = np.minimum(box[3], gts[:, 3]) - np.maximum(box[1], gts[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    wa, ha = box[2] - box[0], box[3] - box[1]
    area_a = wa * ha if (wa > 0 and ha > 0) else 0.0
    wb, hb = gts[:, 2] - gts[:, 0], gts[:, 3] - gts[:, 1]
    area_b = np.where((wb > 0) & (hb > 0), wb * hb, 0.0)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def voc_ap_allpoint(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def match(images, cls):
    """VOC devkit-style evaluation; cls None = class-agnostic. Returns (tp, fp, npos)."""
    dets = []  # (score, image, box) in input order
    npos = 0
    for ii, (gts, ds) in enumerate(images):
        for g in gts:
            if not g[5] and (cls is None or g[4] == cls):
                npos += 1
        for d in ds:
            if cls is None or d[4] == cls:
                dets.append((d[5], ii, np.array(d[:4])))
    order = np.argsort(-np.array([d[0] for d in dets], dtype=np.float64), kind="stable")
    detected = [np.zeros(len(g), dtype=bool) for g, _ in images]
    tp = np.zeros(len(dets))
    fp = np.zeros(len(dets))
    for r, k in enumerate(order):
        _, ii, box = dets[k]
        gts = images[ii][0]
        cand = [j for j, g in enumerate(gts) if g[5] or cls is None or g[4] == cls]
        if not cand:
            fp[r] = 1
            continue
        arr = np.array([gts[j][:4] for j in cand], dtype=np.float64)
        ov = iou_many(box, arr)
        jm = int(np.argmax(ov))
        if ov[jm] >= IOU:
            j = cand[jm]
            if gts[j][5]:
                continue  # ignore region: neither tp nor fp
            if not detected[ii][j]:
                tp[r] = 1
                detected[ii][j] = True
            else:
                fp[r] = 1
        else:
            fp[r] = 1
    return tp, fp, npos


def ap_of(images, cls):
    tp, fp, npos = match(images, cls)
    if npos == 0:
        return float("nan"), 0
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    rec = tp / npos
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return voc_ap_allpoint(rec, prec), npos


def face_recall(images):
    tp, _, npos = match(images, None)
    return float("nan") if npos == 0 else tp.sum() / npos


def r2(x):
    return float(np.round(x, 2))


def random_case(rng):
    images = []
    for _ in range(int(rng.integers(1, 7))):
        gts, ds = [], []
        for _ in range(int(rng.integers(0, 7))):
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(8, 90, 2)
            g = [r2(x), r2(y), r2(x + w), r2(y + h), int(rng.integers(0, 2)),
                 int(rng.random() < 0.15)]
            gts.append(g)
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):  # misses and duplicates
                j = rng.normal(0, 0.18, 4) * np.array([w, h, w, h])
                cls = g[4] if rng.random() < 0.8 else 1 - g[4]
                ds.append([r2(x + j[0]), r2(y + j[1]), r2(x + w + j[2]), r2(y + h + j[3]), cls,
                           r2(rng.random())])
        for _ in range(int(rng.integers(0, 3))):  # background false positives
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(8, 90, 2)
            ds.append([r2(x), r2(y), r2(x + w), r2(y + h), int(rng.integers(0, 2)),
                       r2(rng.random())])
        rng.shuffle(ds)
        images.append((gts, ds))
    return images


def gen_auc(rng):
    out = ["# ROC AUC golden cases from tools/gen_eval_fixtures.py (trapezoidal ROC, numpy)"]
    sizes = [2, 3, 5, 8, 13, 20, 40, 75, 150, 400]
    for n in sizes:
        for _ in range(2):
            while True:
                levels = int(rng.choice([3, 10, 100]))
                scores = np.round(rng.integers(0, levels, n) / levels, 2)
                labels = (rng.random(n) < 0.3 + 0.4 * scores).astype(int)
                if 0 < labels.sum() < n:
                    break
            out.append("case %d %s" % (n, fmt(roc_auc_trapezoid(scores, labels))))
            out += ["%.2f %d" % (s, l) for s, l in zip(scores, labels)]
    return "\n".join(out) + "\n"


def gen_ap(rng):
    out = ["# VOC AP (IoU 0.5, all-point) golden cases from tools/gen_eval_fixtures.py (numpy)"]
    for _ in range(40):
        images = random_case(rng)
        ap0, n0 = ap_of(images, 0)
        ap1, n1 = ap_of(images, 1)
        out.append("case %d %s %s %s %d %d" % (len(images), fmt(ap0), fmt(ap1),
                                                fmt(face_recall(images)), n0, n1))
        for gts, ds in images:
            out.append("image %d %d" % (len(gts), len(ds)))
            out += ["g %.2f %.2f %.2f %.2f %d %d" % tuple(g) for g in gts]
            out += ["d %.2f %.2f %.2f %.2f %d %.2f" % tuple(d) for d in ds]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "fixtures", "eval"))
    ap.add_argument("--check", action="store_true", help="compare with the committed files")
    args = ap.parse_args()
    files = {"auc.txt": gen_auc(np.random.default_rng(20240601)),
             "ap.txt": gen_ap(np.random.default_rng(20240602))}
    bad = 0
    for name, text in files.items():
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path) as f:
                    same = f.read() == text
            except OSError:
                same = False
            print("%s: %s" % (path, "ok" if same else "DIFFERS"))
            bad |= not same
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            print("wrote %s" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
