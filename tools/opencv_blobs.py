#!/usr/bin/python3
"""Print (and optionally dump) OpenCV's res10 intermediate blobs, to debug the C engine
layer by layer.

The input is cv2.dnn.blobFromImage(imread(IMAGE), 1.0, (300,300), (104,177,123)); it is
listed first under the name "data". Then, for every requested layer (net.getLayerNames()
order), the layer's first output as returned by net.forward([names]):

  <layer> shape=1x32x150x150 sum=... mean=... absmax=... first8=[...]

--dump DIR writes DIR/<layer>.f32 (raw float32, little-endian, C order) and
DIR/<layer>.shape (dimensions separated by spaces, one line), for every printed blob.
Keep DIR outside the repository (e.g. /tmp/res10_blobs).

--no-fusion calls net.enableFusion(False) so that every Caffe layer (BatchNorm, Scale,
ReLU) really runs on its own. With fusion on (the default, as in opencv_detect.py), a layer
whose output is requested is not fused into, but a BatchNorm/Scale/ReLU that was folded into
its convolution is never run and its blob comes back as zeros (a warning is printed on
stderr); see tools/README.md.
"""

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_detect  # noqa: E402  (same folder)


def forward_layers(net, blob, names):
    """[(name, blob)] for "data" plus each layer in names (first output of each)."""
    net.setInput(blob)
    outs = net.forward(names)
    return [("data", blob)] + list(zip(names, outs))


def describe(name, a):
    flat = a.reshape(-1).astype(np.float64)
    first = ",".join("%.6g" % v for v in flat[:8])
    return ("%s shape=%s sum=%.6g mean=%.6g absmax=%.6g first8=[%s]"
            % (name, "x".join(str(d) for d in a.shape), flat.sum(), flat.mean(),
               np.abs(flat).max() if flat.size else 0.0, first))


def dump(dirname, name, a):
    safe = name.replace("/", "_")
    np.ascontiguousarray(a, dtype="<f4").tofile(os.path.join(dirname, safe + ".f32"))
    with open(os.path.join(dirname, safe + ".shape"), "w") as f:
        f.write(" ".join(str(d) for d in a.shape) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Per-layer statistics of OpenCV's res10 forward.")
    ap.add_argument("image", metavar="IMAGE")
    ap.add_argument("--layers", default="all",
                    help="'all' or comma-separated layer names (default all)")
    ap.add_argument("--no-fusion", action="store_true",
                    help="net.enableFusion(False): run BN/Scale/ReLU as separate layers")
    ap.add_argument("--dump", metavar="DIR", help="write <layer>.f32 and <layer>.shape into DIR")
    ap.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads(N)")
    ap.add_argument("--model-dir", default=opencv_detect.DEFAULT_MODEL_DIR,
                    help="folder with the res10 files (default %s)"
                    % opencv_detect.DEFAULT_MODEL_DIR)
    a = ap.parse_args(argv)

    if a.threads is not None:
        cv2.setNumThreads(a.threads)
    img = opencv_detect.read_image(a.image)
    if img is None:
        print("opencv_blobs: cannot read image: %s" % a.image, file=sys.stderr)
        return 2
    net = opencv_detect.load_net(a.model_dir)
    if a.no_fusion:
        net.enableFusion(False)
    all_names = list(net.getLayerNames())
    if a.layers == "all":
        names = all_names
    else:
        names = [n for n in a.layers.split(",") if n]
        unknown = [n for n in names if n not in all_names]
        if unknown:
            ap.error("unknown layer(s): %s" % ", ".join(unknown))
    if a.dump:
        os.makedirs(a.dump, exist_ok=True)
    for name, blob in forward_layers(net, opencv_detect.make_blob(img), names):
        print(describe(name, blob))
        if not a.no_fusion and name != "data" and not np.any(blob):
            print("opencv_blobs: warning: %s is all zeros; with fusion on, a layer folded into "
                  "the one before it is never computed: ask for more layers or use --no-fusion"
                  % name, file=sys.stderr)
        if a.dump:
            dump(a.dump, name, blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
