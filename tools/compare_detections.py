#!/usr/bin/python3
"""Compare facemask's detections with the OpenCV reference.

Both files hold `detect --json` lines:
  {"image":"...","width":W,"height":H,"faces":[{"box":[x1,y1,x2,y2],"score":s},...]}
A face may also carry "landmarks":[[x,y],...] (YuNet: 5 points; tools/opencv_yunet.py).
(blank lines and lines starting with '#' are skipped). Images are matched by their "image"
string (after removing any --strip-prefix). Inside an image, faces are paired greedily by
IoU, highest first (each face used at most once); IoU is computed on continuous pixel
boxes, area = (x2 - x1) * (y2 - y1), no +1. Zero-area boxes (OpenCV boxes lying wholly
outside the image, clipped to e.g. [W,H,W,H]) match only a zero-area box with the same
corners (within 0.01 px), with IoU taken as 1.

Violations (any one makes the exit status 1):
  - a reference image missing from OURS, or an image in OURS that is not in REF
    (unless --subset), or different width/height;
  - a reference face whose partner has IoU < --iou, or |score difference| > --score-tol,
    or that has no partner at all;
  - a face in OURS left without a reference partner (an extra face);
  - for a pair where both faces have landmarks: a point farther than --landmark-tol px
    (Euclidean distance) from its reference point, or a different number of points;
    with --landmarks, a face of either file without landmarks is a violation too.
Misses and extras whose score is within --score-tol of --conf are labelled "borderline"
(the two engines disagree on which side of the threshold the face falls); they are still
violations unless --allow-borderline.

The last line on stdout is a parseable summary:
  summary images=N ref_faces=N our_faces=N matched=N worst_iou=F worst_score_diff=F violations=N
worst_iou / worst_score_diff are taken over all paired faces (including failed pairs).
When landmarks were compared in at least one pair (or with --landmarks), the summary line
ends with " landmark_pairs=N worst_landmark_px=F" (otherwise it is exactly as above).
Exit status: 0 all good, 1 violations, 2 unreadable input.
"""

import argparse
import json
import sys


def load_jsonl(path, strip_prefixes):
    """Read a JSONL file into {image: record}, keeping file order in a list too."""
    records = {}
    order = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                rec = json.loads(line)
                key = rec["image"]
                for p in strip_prefixes:
                    if key.startswith(p):
                        key = key[len(p):]
                        break
                faces = [(float(fc["box"][0]), float(fc["box"][1]), float(fc["box"][2]),
                          float(fc["box"][3]), float(fc["score"])) for fc in rec["faces"]]
                lms = [[(float(p[0]), float(p[1])) for p in fc["landmarks"]]
                       if "landmarks" in fc else None for fc in rec["faces"]]
                rec = {"width": int(rec["width"]), "height": int(rec["height"]), "faces": faces,
                       "landmarks": lms}
            except (ValueError, KeyError, TypeError, IndexError) as e:
                raise SystemExit("compare_detections: %s:%d: bad line (%s)" % (path, lineno, e))
            if key in records:
                raise SystemExit("compare_detections: %s:%d: image %r appears twice"
                                 % (path, lineno, key))
            records[key] = rec
            order.append(key)
    return records, order


DEGENERATE_TOL = 0.01   # px: the printed precision of a box corner


def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a, b):
    """IoU of two (x1, y1, x2, y2, ...) boxes, continuous areas.

    OpenCV's SSD can emit boxes entirely outside the image, which clipping turns into
    zero-area boxes such as [W,H,W,H] (maksssksksss446.jpg has two, score 0.77 and 0.73).
    IoU is undefined there; two boxes that are both zero-area count as IoU 1 when all four
    corners agree to DEGENERATE_TOL, else 0."""
    if area(a) == 0.0 and area(b) == 0.0:
        same = all(abs(a[k] - b[k]) <= DEGENERATE_TOL for k in range(4))
        return 1.0 if same else 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = area(a) + area(b) - inter
    return inter / union if union > 0.0 else 0.0


def greedy_pairs(ref, ours):
    """Pairs (i, j, iou) with iou > 0, greedily by descending IoU, each face used once."""
    cand = sorted(((iou(r, o), i, j) for i, r in enumerate(ref) for j, o in enumerate(ours)),
                  key=lambda t: (-t[0], t[1], t[2]))
    used_r, used_o, pairs = set(), set(), []
    for v, i, j in cand:
        if v <= 0.0 or i in used_r or j in used_o:
            continue
        used_r.add(i)
        used_o.add(j)
        pairs.append((i, j, v))
    return pairs


def fmt_face(f):
    return "[%.2f,%.2f,%.2f,%.2f] score=%.4f" % f


def landmark_distance(a, b):
    """Largest Euclidean distance between corresponding points (inf if the counts differ)."""
    if len(a) != len(b):
        return float("inf")
    return max((((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5 for p, q in zip(a, b)),
               default=0.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare detect --json output against a reference.")
    ap.add_argument("ref", metavar="REF.jsonl", help="reference (OpenCV) detections")
    ap.add_argument("ours", metavar="OURS.jsonl", help="facemask detections")
    ap.add_argument("--iou", type=float, default=0.98, help="minimum IoU (default 0.98)")
    ap.add_argument("--score-tol", type=float, default=0.005,
                    help="maximum |score difference| (default 0.005)")
    ap.add_argument("--conf", type=float, default=0.5,
                    help="threshold both ran at; only used to label borderline faces (default 0.5)")
    ap.add_argument("--allow-borderline", action="store_true",
                    help="do not count borderline misses/extras as violations")
    ap.add_argument("--subset", action="store_true",
                    help="OURS may contain images that REF does not (they are ignored)")
    ap.add_argument("--strip-prefix", action="append", default=[], metavar="PREFIX",
                    help="remove PREFIX from the start of image names in both files before "
                         "matching (repeatable; first matching prefix wins), e.g. ../shared/")
    ap.add_argument("--landmark-tol", type=float, default=1.0,
                    help="maximum distance in px between paired landmarks, checked when both "
                         "faces have them (default 1.0)")
    ap.add_argument("--landmarks", action="store_true",
                    help="require landmarks on every face of both files (YuNet)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    a = ap.parse_args(argv)

    try:
        ref, ref_order = load_jsonl(a.ref, a.strip_prefix)
        ours, ours_order = load_jsonl(a.ours, a.strip_prefix)
    except OSError as e:
        print("compare_detections: %s" % e, file=sys.stderr)
        return 2

    def report(msg):
        if not a.quiet:
            print(msg)

    def borderline(score):
        return abs(score - a.conf) <= a.score_tol

    violations = 0
    n_ref = n_ours = n_matched = 0
    worst_iou, worst_diff = 1.0, 0.0
    n_lm, worst_lm = 0, 0.0
    n_images = 0
    for key in ref_order:
        r = ref[key]
        n_ref += len(r["faces"])
        if key not in ours:
            report("%s: missing from OURS (%d reference faces)" % (key, len(r["faces"])))
            violations += 1
            continue
        n_images += 1
        o = ours[key]
        n_ours += len(o["faces"])
        if (r["width"], r["height"]) != (o["width"], o["height"]):
            report("%s: size %dx%d, reference %dx%d" % (key, o["width"], o["height"],
                                                       r["width"], r["height"]))
            violations += 1
        pairs = greedy_pairs(r["faces"], o["faces"])
        paired_r = {i: (j, v) for i, j, v in pairs}
        paired_o = {j for _, j, _ in pairs}
        for i, rf in enumerate(r["faces"]):
            if i not in paired_r:
                tag = " (borderline)" if borderline(rf[4]) else ""
                report("%s: reference face %s has no match%s" % (key, fmt_face(rf), tag))
                if not (tag and a.allow_borderline):
                    violations += 1
                continue
            j, v = paired_r[i]
            of = o["faces"][j]
            diff = abs(of[4] - rf[4])
            worst_iou = min(worst_iou, v)
            worst_diff = max(worst_diff, diff)
            rl, ol = r["landmarks"][i], o["landmarks"][j]
            lm_bad = False
            if rl is not None and ol is not None:
                d = landmark_distance(rl, ol)
                n_lm += 1
                worst_lm = max(worst_lm, d)
                lm_bad = d > a.landmark_tol
            elif a.landmarks:
                report("%s: reference face %s: landmarks missing from %s" % (
                    key, fmt_face(rf), "both" if rl is None and ol is None else
                    "REF" if rl is None else "OURS"))
                lm_bad = True
            if v < a.iou or diff > a.score_tol:
                report("%s: reference face %s best match %s iou=%.4f score_diff=%.4f"
                       % (key, fmt_face(rf), fmt_face(of), v, diff))
                violations += 1
            elif lm_bad:
                if rl is not None and ol is not None:
                    report("%s: reference face %s landmarks off by %.2f px"
                           % (key, fmt_face(rf), landmark_distance(rl, ol)))
                violations += 1
            else:
                n_matched += 1
        for j, of in enumerate(o["faces"]):
            if j not in paired_o:
                tag = " (borderline)" if borderline(of[4]) else ""
                report("%s: extra face %s%s" % (key, fmt_face(of), tag))
                if not (tag and a.allow_borderline):
                    violations += 1
    if not a.subset:
        for key in ours_order:
            if key not in ref:
                report("%s: in OURS but not in REF" % key)
                violations += 1

    lm_part = ""
    if n_lm or a.landmarks:
        lm_part = " landmark_pairs=%d worst_landmark_px=%.4f" % (n_lm, worst_lm)
    print("summary images=%d ref_faces=%d our_faces=%d matched=%d worst_iou=%.4f "
          "worst_score_diff=%.4f violations=%d%s"
          % (n_images, n_ref, n_ours, n_matched, worst_iou, worst_diff, violations, lm_part))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
