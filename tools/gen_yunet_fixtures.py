#!/usr/bin/python3
"""Generate the YuNet golden fixtures in tests/fixtures/yunet/ from OpenCV 4.6 DNN.

Everything comes from tools/opencv_yunet.py (its docstring is the contract) run with
cv2.setNumThreads(1), --conf 0.5, and "image" paths relative to the shared folder, exactly
as tests/fixtures/det/ does it (tests/test_cli.c prefixes them with the shared folder):

  expected_n.jsonl      yunet_n_640_640.onnx at det-size 640 on the subset: the 8 demo
  expected_s.jsonl      photos, then every 18th mask_det image (indices 0, 18, ..., 414 of
                        data/mask_det/images sorted by path bytes: 24 images); 32 lines each.
  expected_all_n.jsonl  yunet_n at det-size 640 on all 434 images (demo, then mask_det), for
                        a manual full check.
  raw/<m>/              for m in n, s: the 12 raw outputs of --raw-images (2 demo photos) at
                        det-size 320, <stem>.<output>.txt as opencv_yunet.py --raw writes them,
                        and expected_320.jsonl, the detections decoded from exactly those
                        outputs (so the C decoder can be tested without the engine).
  README.md             provenance, the commands, statistics (including how close any score
                        came to the threshold and any IoU to the NMS threshold, i.e. how
                        fragile the fixtures are), and the subset list.
The images themselves are not copied. Each .jsonl line is what
  cd ../shared && <repo>/tools/opencv_yunet.py --model n --threads 1 demo data/mask_det/images
prints for that image; compare `facemask detect --json --no-classify` output with
tools/compare_detections.py --landmarks (add --subset against expected_n/s.jsonl).

--check regenerates in memory and compares with the committed files (exit 1 if any
differs), e.g. after an OpenCV upgrade.
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
import opencv_yunet  # noqa: E402

FIXTURE_DIR = os.path.join(opencv_detect.REPO_ROOT, "tests", "fixtures", "yunet")
DEMO_DIR = "demo"
DET_DIR = "data/mask_det/images"
EVERY = 18
RAW_IMAGES = ["demo/pyimagesearch_example_01.png", "demo/coral_face.jpg"]
RAW_DET_SIZE = 320
CONF = 0.5
DET_SIZE = 640


def subset_paths(all_paths):
    """The demo photos, then every EVERY-th mask_det image (already in sorted order)."""
    demo = [p for p in all_paths if p.startswith(DEMO_DIR + "/")]
    det = [p for p in all_paths if p.startswith(DET_DIR + "/")]
    return demo + det[::EVERY]


def iou(a, b):
    """IoU of two (x, y, w, h) integer rectangles, as cv::Rect's & and area()."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = ix * iy if ix > 0 and iy > 0 else 0
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def margins(cand, conf):
    """(closest score to conf among the cells that passed, closest IoU to the NMS threshold
    among the comparisons NMS makes) for one image; None when there is nothing to compare."""
    s_margin = min((abs(float(f[4]) - float(np.float32(conf))) for f in cand), default=None)
    if len(cand) <= 1:
        return s_margin, None
    order = sorted(range(len(cand)), key=lambda i: -float(cand[i][4]))   # stable, as NMSBoxes
    kept, i_margin = [], None
    for i in order:
        if not float(cand[i][4]) > float(np.float32(conf)):
            continue
        r = opencv_yunet.nms_rect(cand[i])
        keep = True
        for k in kept:
            v = iou(r, k)
            d = abs(v - opencv_yunet.NMS_THRESHOLD)
            i_margin = d if i_margin is None else min(i_margin, d)
            if v > opencv_yunet.NMS_THRESHOLD:
                keep = False
                break
        if keep:
            kept.append(r)
    return s_margin, i_margin


def run_model(shared, model, paths, det_size, raw_dir=None):
    """Detect on paths (relative to shared); returns (lines, per-image stats dicts)."""
    model_file = opencv_yunet.model_path(model, os.path.join(shared, "models", "yunet"))
    net = opencv_yunet.load_net(model_file)
    lines, stats = [], []
    cwd = os.getcwd()
    os.chdir(shared)
    try:
        for path in paths:
            img = opencv_detect.read_image(path)
            if img is None:
                raise SystemExit("gen_yunet_fixtures: cannot read %s" % path)
            h, w = img.shape[:2]
            blob, geo = opencv_yunet.preprocess(img, det_size)
            outs = opencv_yunet.forward(net, blob)
            cand = opencv_yunet.candidates(outs, geo[2], geo[3], CONF)
            faces = opencv_yunet.to_image(opencv_yunet.nms(cand, CONF), w, h, geo)
            lines.append(opencv_yunet.format_line(path, w, h, faces))
            s_m, i_m = margins(cand, CONF)
            stats.append({"image": path, "w": w, "h": h, "geo": geo, "faces": faces,
                          "cand": len(cand), "score_margin": s_m, "iou_margin": i_m})
            if raw_dir is not None:
                opencv_yunet.write_raw(raw_dir, path, model_file, geo, outs)
    finally:
        os.chdir(cwd)
    return lines, stats


def summarize(stats):
    faces = [(s, f) for s in stats for f in s["faces"]]
    hist = {}
    for s in stats:
        hist[len(s["faces"])] = hist.get(len(s["faces"]), 0) + 1
    out = {"images": len(stats), "faces": len(faces), "no_face": hist.get(0, 0),
           "hist": sorted(hist.items())}
    if faces:
        out["smallest"] = min(faces, key=lambda sf: min(sf[1][2] - sf[1][0], sf[1][3] - sf[1][1]))
        out["lowest"] = min(faces, key=lambda sf: sf[1][4])
    out["clipped"] = sum(f[0] <= 0 or f[1] <= 0 or f[2] >= s["w"] or f[3] >= s["h"]
                         for s, f in faces)
    out["lm_outside"] = sum(any(x < 0 or y < 0 or x > s["w"] or y > s["h"] for x, y in f[5])
                            for s, f in faces)
    sm = [s for s in stats if s["score_margin"] is not None]
    im = [s for s in stats if s["iou_margin"] is not None]
    out["score_margin"] = min(sm, key=lambda s: s["score_margin"]) if sm else None
    out["iou_margin"] = min(im, key=lambda s: s["iou_margin"]) if im else None
    return out


def fmt_face(f):
    return "[%.2f,%.2f,%.2f,%.2f] score %.4f" % f[:5]


def stats_lines(title, st):
    lines = ["## %s" % title, "",
             "- images: %d, faces: %d, images with no face: %d"
             % (st["images"], st["faces"], st["no_face"]),
             "- faces per image -> images: %s" % ", ".join("%d: %d" % kv for kv in st["hist"])]
    if "smallest" in st:
        s, f = st["smallest"]
        lines.append("- smallest face: %.2f px (min side) in `%s`, %s"
                     % (min(f[2] - f[0], f[3] - f[1]), s["image"], fmt_face(f)))
        s, f = st["lowest"]
        lines.append("- lowest score: `%s`, %s" % (s["image"], fmt_face(f)))
    lines.append("- faces touching the image border after clipping: %d; faces with a landmark "
                 "outside the image (landmarks are not clipped): %d"
                 % (st["clipped"], st["lm_outside"]))
    if st["score_margin"]:
        s = st["score_margin"]
        lines.append("- closest score to the threshold among the cells that passed it: "
                     "|score - %g| = %.2e (`%s`)" % (CONF, s["score_margin"], s["image"]))
    if st["iou_margin"]:
        s = st["iou_margin"]
        lines.append("- closest IoU to the NMS threshold among the comparisons NMS made "
                     "(integer boxes): |IoU - %g| = %.2e (`%s`)"
                     % (opencv_yunet.NMS_THRESHOLD, s["iou_margin"], s["image"]))
    lines.append("")
    return lines


def readme_text(stats_all_n, stats_sub, per_image_sub, subset, raw_stats):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# YuNet golden fixtures (generated, do not edit)",
        "",
        "Generated %s by `/usr/bin/python3 tools/gen_yunet_fixtures.py` with OpenCV %s, numpy "
        "%s, Python %s (Debian 12 packages), DNN backend OPENCV on CPU, cv2.setNumThreads(1) "
        "(the detections are the same with 2 threads)."
        % (now, cv2.__version__, np.__version__, platform.python_version()),
        "",
        "The contract (resize, pad, decode, NMS, mapping back) is the docstring of "
        "`tools/opencv_yunet.py`. Image paths are relative to the shared folder; the images "
        "and the models are not copied.",
        "",
        "- `expected_n.jsonl`, `expected_s.jsonl`: yunet_n (`yunet_n_640_640.onnx`) and yunet_s "
        "(`face_detection_yunet_2023mar.onnx`), det-size %d, conf %g, on the 8 demo photos "
        "and every %dth image of `%s` (%d images)." % (DET_SIZE, CONF, EVERY, DET_DIR,
                                                       len(subset)),
        "- `expected_all_n.jsonl`: yunet_n, det-size %d, conf %g, on all %d images."
        % (DET_SIZE, CONF, stats_all_n["images"]),
        "- `raw/n/`, `raw/s/`: each model's 12 raw outputs at det-size %d for %s "
        "(`<stem>.<output>.txt`: a `# shape=... output=... input=1,3,PH,PW model=... image=...` "
        "line, then one `%%.9g` value a line, C order) and `expected_320.jsonl`, the detections "
        "decoded from those outputs." % (RAW_DET_SIZE, ", ".join("`%s`" % p for p in RAW_IMAGES)),
        "",
        "Regenerate with `/usr/bin/python3 tools/gen_yunet_fixtures.py`; `--check` verifies "
        "that the committed files still match this OpenCV. One line by hand:",
        "",
        "    cd ../shared && /usr/bin/python3 <repo>/tools/opencv_yunet.py --model n --threads 1 "
        "demo/coral_face.jpg",
        "    cd ../shared && /usr/bin/python3 <repo>/tools/opencv_yunet.py --model n --det-size "
        "320 --raw /tmp/raw demo/coral_face.jpg",
        "",
        "Compare facemask with, from the shared folder:",
        "",
        "    <facemask> detect --json --no-classify --detector yunet demo data/mask_det/images "
        "> /tmp/ours.jsonl",
        "    /usr/bin/python3 <repo>/tools/compare_detections.py --landmarks "
        "<repo>/tests/fixtures/yunet/expected_all_n.jsonl /tmp/ours.jsonl",
        "",
    ]
    lines += stats_lines("Statistics, yunet_n, all images", stats_all_n)
    for m in ("n", "s"):
        lines += stats_lines("Statistics, yunet_%s, subset" % m, stats_sub[m])
    lines += ["## Raw outputs (det-size %d)" % RAW_DET_SIZE, "",
              "| model | image | size | resized | padded input | cells >= conf | faces |",
              "|---|---|---|---|---|---|---|"]
    for m in ("n", "s"):
        for s in raw_stats[m]:
            g = s["geo"]
            lines.append("| %s | `%s` | %dx%d | %dx%d | %dx%d | %d | %d |"
                         % (m, s["image"], s["w"], s["h"], g[0], g[1], g[2], g[3], s["cand"],
                            len(s["faces"])))
    lines += ["", "## Subset", "", "| image | size | padded input | faces n | faces s |",
              "|---|---|---|---|---|"]
    for sn, ss in zip(per_image_sub["n"], per_image_sub["s"]):
        g = sn["geo"]
        lines.append("| `%s` | %dx%d | %dx%d | %d | %d |"
                     % (sn["image"], sn["w"], sn["h"], g[2], g[3], len(sn["faces"]),
                        len(ss["faces"])))
    return "\n".join(lines) + "\n"


def generate(shared, raw_root):
    """All fixture files as {relative path: text}; raw files are written under raw_root."""
    cv2.setNumThreads(1)
    cwd = os.getcwd()
    os.chdir(shared)
    try:
        all_paths = opencv_detect.expand_inputs([DEMO_DIR, DET_DIR])
    finally:
        os.chdir(cwd)
    subset = subset_paths(all_paths)
    files = {}
    lines_all, stats_all = run_model(shared, "n", all_paths, DET_SIZE)
    files["expected_all_n.jsonl"] = "\n".join(lines_all) + "\n"
    by_image = dict(zip(all_paths, zip(lines_all, stats_all)))
    stats_sub, raw_stats = {}, {}
    for m in ("n", "s"):
        if m == "n":
            lines, st = [by_image[p][0] for p in subset], [by_image[p][1] for p in subset]
        else:
            lines, st = run_model(shared, m, subset, DET_SIZE)
        files["expected_%s.jsonl" % m] = "\n".join(lines) + "\n"
        stats_sub[m] = st
        raw_dir = os.path.join(raw_root, "raw", m)
        os.makedirs(raw_dir, exist_ok=True)
        lines, raw_stats[m] = run_model(shared, m, RAW_IMAGES, RAW_DET_SIZE, raw_dir)
        files["raw/%s/expected_320.jsonl" % m] = "\n".join(lines) + "\n"
    files["README.md"] = readme_text(summarize(stats_all),
                                     {m: summarize(stats_sub[m]) for m in stats_sub},
                                     stats_sub, subset, raw_stats)
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write tests/fixtures/yunet/ from OpenCV DNN.")
    ap.add_argument("--shared", default=opencv_detect.DEFAULT_SHARED,
                    help="shared folder (default %s)" % opencv_detect.DEFAULT_SHARED)
    ap.add_argument("--out", default=FIXTURE_DIR, help="output folder (default %s)" % FIXTURE_DIR)
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing (README.md's "
                         "date line is ignored)")
    a = ap.parse_args(argv)
    shared = os.path.abspath(a.shared)

    if a.check:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            files = generate(shared, tmp)
            for m in ("n", "s"):
                rel = os.path.join("raw", m)
                for name in sorted(os.listdir(os.path.join(tmp, rel))):
                    with open(os.path.join(tmp, rel, name)) as f:
                        files[rel + "/" + name] = f.read()
        bad = 0
        for name, text in sorted(files.items()):
            path = os.path.join(a.out, name)
            try:
                with open(path, encoding="utf-8") as f:
                    old = f.read()
            except OSError:
                old = None
            if name == "README.md" and old is not None:
                old = "\n".join(l for l in old.split("\n") if not l.startswith("Generated "))
                text = "\n".join(l for l in text.split("\n") if not l.startswith("Generated "))
            same = old == text
            if not same or name.endswith(".jsonl") or name == "README.md":
                print("%s: %s" % (path, "matches" if same else "DIFFERS"))
            bad += not same
        print("checked %d files, %d differ" % (len(files), bad))
        return 1 if bad else 0

    files = generate(shared, a.out)
    for name, text in files.items():
        path = os.path.join(a.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    total = 0
    for root, _, names in os.walk(a.out):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    print("wrote %s: %d files, %d bytes" % (a.out, sum(len(n) for _, _, n in os.walk(a.out)),
                                             total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
