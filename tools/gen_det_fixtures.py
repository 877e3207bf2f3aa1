#!/usr/bin/python3
"""Generate the face-detection golden fixtures in tests/fixtures/det/ from OpenCV 4.6 DNN.

Writes
  expected_all.jsonl  OpenCV's detections at --conf (0.5) on all shared images: the 8 demo
                      photos (demo/*.jpg|jpeg|png) then the 426 mask_det images, in
                      opencv_detect.py's order; "image" is the path relative to the shared
                      folder, e.g. "demo/coral_face.jpg", "data/mask_det/images/maksssksksss10.jpg".
  expected.jsonl      the same lines for a committed subset: all demo photos plus 25 mask_det
                      images picked deterministically for coverage (most faces, smallest
                      faces, no face, scores just above the threshold, boxes clipped or wholly
                      outside the image, extreme image shapes).
  README.md           how and when they were generated, statistics, and why each subset
                      image was picked.
The images themselves are not copied. Every line is exactly what
  cd ../shared && <repo>/tools/opencv_detect.py demo data/mask_det/images
prints, so `facemask detect --json` run the same way can be compared with
tools/compare_detections.py (use --subset against expected.jsonl).

--check regenerates in memory and compares with the committed .jsonl files (exit 1 if
they differ), e.g. after an OpenCV upgrade.
"""

import argparse
import datetime
import io
import json
import os
import platform
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)

FIXTURE_DIR = os.path.join(opencv_detect.REPO_ROOT, "tests", "fixtures", "det")
INPUT_DIRS = ["demo", "data/mask_det/images"]
ANNOT_DIR = "data/mask_det/annotations"


def min_side(face):
    return min(face[2] - face[0], face[3] - face[1])


def is_degenerate(face):
    return face[2] <= face[0] or face[3] <= face[1]


def is_clipped(face, w, h):
    return face[0] <= 0.0 or face[1] <= 0.0 or face[2] >= w or face[3] >= h


def annotated_boxes(shared, image):
    """Number of <object> entries in the image's PASCAL VOC file (0 if none)."""
    stem = os.path.splitext(os.path.basename(image))[0]
    try:
        with open(os.path.join(shared, ANNOT_DIR, stem + ".xml"), encoding="utf-8",
                  errors="replace") as f:
            return f.read().count("<object>")
    except OSError:
        return 0


def select_subset(results, shared):
    """Deterministic coverage subset of the mask_det images: [(image, reason)].

    Each category takes its quota of images not already taken, best first, ties broken by
    the image path as bytes."""
    det = [r for r in results if r["image"].startswith("data/")]
    key_path = lambda r: os.fsencode(r["image"])  # noqa: E731

    def smallest(r):
        sides = [min_side(f) for f in r["faces"] if not is_degenerate(f)]
        return min(sides) if sides else float("inf")

    def n_clipped(r):
        return sum(is_clipped(f, r["width"], r["height"]) for f in r["faces"])

    categories = [
        ("most faces", 6, lambda r: (-len(r["faces"]), key_path(r)), lambda r: r["faces"]),
        ("smallest face", 6, lambda r: (smallest(r), key_path(r)), lambda r: r["faces"]),
        ("no face (most annotated faces)", 5,
         lambda r: (-annotated_boxes(shared, r["image"]), key_path(r)),
         lambda r: not r["faces"]),
        ("lowest score above threshold", 2,
         lambda r: (min(f[4] for f in r["faces"]), key_path(r)), lambda r: r["faces"]),
        ("box clipped / outside image", 2,
         lambda r: (-sum(is_degenerate(f) for f in r["faces"]), -n_clipped(r), key_path(r)),
         lambda r: n_clipped(r) > 0),
        ("tallest aspect", 1, lambda r: (-r["height"] / r["width"], key_path(r)), None),
        ("widest aspect", 1, lambda r: (-r["width"] / r["height"], key_path(r)), None),
        ("smallest image", 1, lambda r: (r["width"] * r["height"], key_path(r)), None),
        ("largest image", 1, lambda r: (-r["width"] * r["height"], key_path(r)), None),
    ]
    chosen = {}
    for reason, quota, sort_key, eligible in categories:
        pool = sorted((r for r in det if eligible is None or eligible(r)), key=sort_key)
        taken = 0
        for r in pool:
            if taken == quota:
                break
            if r["image"] not in chosen:
                chosen[r["image"]] = reason
                taken += 1
    return chosen


def statistics(results):
    faces = [(r, f) for r in results for f in r["faces"]]
    hist = {}
    for r in results:
        hist[len(r["faces"])] = hist.get(len(r["faces"]), 0) + 1
    real = [(r, f) for r, f in faces if not is_degenerate(f)]
    small_r, small_f = min(real, key=lambda rf: (min_side(rf[1]), os.fsencode(rf[0]["image"])))
    low_r, low_f = min(faces, key=lambda rf: rf[1][4])
    return {
        "images": len(results),
        "faces": len(faces),
        "no_face": hist.get(0, 0),
        "hist": sorted(hist.items()),
        "smallest": (small_r["image"], small_f, min_side(small_f)),
        "lowest": (low_r["image"], low_f),
        "degenerate": [(r["image"], f) for r, f in faces if is_degenerate(f)],
        "clipped": sum(is_clipped(f, r["width"], r["height"]) for r, f in faces),
    }


def fmt_face(f):
    return "[%.2f,%.2f,%.2f,%.2f] score %.4f" % f


def readme_text(args, stats, subset_stats, chosen):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hist = ", ".join("%d: %d" % kv for kv in stats["hist"])
    lines = [
        "# Face-detection golden fixtures (generated, do not edit)",
        "",
        "Generated %s by `/usr/bin/python3 tools/gen_det_fixtures.py%s` with OpenCV %s, "
        "numpy %s, Python %s (Debian 12 packages; JPEG via libjpeg62-turbo, PNG via "
        "libpng 1.6), DNN backend OPENCV on CPU."
        % (now, (" --conf %g" % args.conf) if args.conf != 0.5 else "", cv2.__version__,
           np.__version__, platform.python_version()),
        "",
        "Each line is exactly what `cd ../shared && <repo>/tools/opencv_detect.py demo "
        "data/mask_det/images` prints (confidence %g), so image paths are relative to the "
        "shared folder; the images are not copied. The output does not depend on the thread "
        "count (checked with 1 and 2)." % args.conf,
        "",
        "- `expected_all.jsonl`: all %d images." % stats["images"],
        "- `expected.jsonl`: the 8 demo photos plus %d mask_det images chosen for coverage "
        "(%d images, %d faces, %d without a face)."
        % (len(chosen), subset_stats["images"], subset_stats["faces"], subset_stats["no_face"]),
        "",
        "Compare facemask with, from the shared folder:",
        "",
        "    <facemask> detect --json demo data/mask_det/images > /tmp/ours.jsonl",
        "    /usr/bin/python3 <repo>/tools/compare_detections.py "
        "<repo>/tests/fixtures/det/expected_all.jsonl /tmp/ours.jsonl",
        "",
        "Regenerate with `tools/gen_det_fixtures.py`; `tools/gen_det_fixtures.py --check` "
        "verifies the committed files still match this OpenCV.",
        "",
        "## Statistics (all images)",
        "",
        "- images: %d, faces: %d, images with no face: %d"
        % (stats["images"], stats["faces"], stats["no_face"]),
        "- faces per image -> images: %s" % hist,
        "- smallest face: %.2f px (min side) in `%s`, %s"
        % (stats["smallest"][2], stats["smallest"][0], fmt_face(stats["smallest"][1])),
        "- lowest score: `%s`, %s" % (stats["lowest"][0], fmt_face(stats["lowest"][1])),
        "- faces touching the image border after clipping: %d" % stats["clipped"],
        "- zero-area faces (OpenCV box wholly outside the image, clipped to the corner): %s"
        % ("; ".join("`%s` %s" % (i, fmt_face(f)) for i, f in stats["degenerate"]) or "none"),
        "",
        "## Subset (mask_det part of expected.jsonl)",
        "",
        "| image | faces | why |",
        "|---|---|---|",
    ]
    return lines


def generate(shared, conf):
    """Run the reference on all shared images; returns (jsonl lines, parsed results)."""
    net = opencv_detect.load_net(os.path.join(shared, "models", "res10"))
    cwd = os.getcwd()
    os.chdir(shared)
    try:
        paths = opencv_detect.expand_inputs(INPUT_DIRS)
        buf = io.StringIO()
        if opencv_detect.run(paths, net, conf, out=buf):
            raise SystemExit("gen_det_fixtures: some images could not be read")
    finally:
        os.chdir(cwd)
    lines = buf.getvalue().splitlines()
    results = []
    for line in lines:
        r = json.loads(line)
        r["faces"] = [tuple(f["box"]) + (f["score"],) for f in r["faces"]]
        results.append(r)
    return lines, results


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write tests/fixtures/det/ from OpenCV DNN.")
    ap.add_argument("--shared", default=opencv_detect.DEFAULT_SHARED,
                    help="shared folder (default %s)" % opencv_detect.DEFAULT_SHARED)
    ap.add_argument("--out", default=FIXTURE_DIR, help="output folder (default %s)" % FIXTURE_DIR)
    ap.add_argument("--conf", type=float, default=0.5, help="confidence threshold (default 0.5)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the existing .jsonl files instead of writing")
    a = ap.parse_args(argv)

    lines, results = generate(a.shared, a.conf)
    chosen = select_subset(results, a.shared)
    subset_lines = [l for l, r in zip(lines, results)
                    if r["image"].startswith("demo/") or r["image"] in chosen]
    files = {"expected_all.jsonl": "\n".join(lines) + "\n",
             "expected.jsonl": "\n".join(subset_lines) + "\n"}

    if a.check:
        bad = 0
        for name, text in files.items():
            path = os.path.join(a.out, name)
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except OSError:
                same = False
            print("%s: %s" % (path, "matches" if same else "DIFFERS"))
            bad += not same
        return 1 if bad else 0

    stats = statistics(results)
    subset = [r for r in results if r["image"].startswith("demo/") or r["image"] in chosen]
    readme = readme_text(a, stats, statistics(subset), chosen)
    for r in results:
        if r["image"] in chosen:
            readme.append("| `%s` | %d | %s |" % (r["image"], len(r["faces"]), chosen[r["image"]]))
    files["README.md"] = "\n".join(readme) + "\n"

    os.makedirs(a.out, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(text)
    print("wrote %s: %d images, %d faces, %d without a face; subset %d images"
          % (a.out, stats["images"], stats["faces"], stats["no_face"], len(subset)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
