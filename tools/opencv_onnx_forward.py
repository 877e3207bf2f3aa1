#!/usr/bin/python3
"""Runs an ONNX model through OpenCV 4.6's DNN module on one raw input tensor.

    /usr/bin/python3 tools/opencv_onnx_forward.py --model M.onnx --input x.f32 --shape 1,3,480,640 \
        --outputs cls_8,obj_8,bbox_8 --out y.f32

The input is the file's float32 values (little-endian, C order) of the given shape, set as
the net's only input with cv2.dnn.readNet(model).setInput(blob) (no preprocessing: the caller
makes the exact tensor facemask runs, so the two engines see the same numbers). The outputs,
forwarded by name in the order given, are written one after another as float32 (C order)
into --out, and stdout gets one line per output: "<name> <d0>x<d1>x...". OpenCV's default
backend and target (CPU) are used; --threads sets cv2.setNumThreads.

Exit status: 0 ok; 2 when cv2 cannot be imported (Debian's python3-opencv is missing:
tools/install-deps.sh installs it), the model does not load, the input file's size does not
match the shape, or an output name is unknown. Used by tests/test_onnx_write.c, which checks
that OpenCV reads a model facemask wrote and computes what facemask computes.
"""

import argparse
import sys


def fail(msg):
    print("opencv_onnx_forward.py: " + msg, file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the .onnx file")
    ap.add_argument("--input", required=True, help="raw float32 input tensor (C order)")
    ap.add_argument("--shape", required=True, help="input shape, e.g. 1,3,480,640")
    ap.add_argument("--outputs", required=True, help="comma-separated output names")
    ap.add_argument("--out", required=True, help="file for the outputs' float32 values")
    ap.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads (default 1)")
    a = ap.parse_args()
    try:
        import cv2
        import numpy as np
    except ImportError as e:
        fail("cannot import cv2/numpy (%s); install Debian's python3-opencv "
             "(tools/install-deps.sh) and run with /usr/bin/python3" % e)
    try:
        shape = tuple(int(v) for v in a.shape.split(","))
    except ValueError:
        fail("--shape %r: expected comma-separated integers" % a.shape)
    if not shape or any(d < 1 for d in shape):
        fail("--shape %r: every axis must be >= 1" % a.shape)
    try:
        x = np.fromfile(a.input, dtype="<f4")
    except OSError as e:
        fail("%s: %s" % (a.input, e))
    if x.size != int(np.prod(shape)):
        fail("%s: %d floats, the shape %s needs %d" % (a.input, x.size, a.shape,
                                                      int(np.prod(shape))))
    cv2.setNumThreads(a.threads)
    try:
        net = cv2.dnn.readNet(a.model)
    except cv2.error as e:
        fail("%s: OpenCV cannot read it: %s" % (a.model, str(e).strip()))
    if net.empty():
        fail("%s: OpenCV read an empty net" % a.model)
    names = [n for n in a.outputs.split(",") if n]
    known = set(net.getLayerNames()) | set(net.getUnconnectedOutLayersNames())
    for n in names:
        if n not in known:
            fail("%s: no output named %r (the net's outputs: %s)"
                 % (a.model, n, ", ".join(net.getUnconnectedOutLayersNames())))
    net.setInput(np.ascontiguousarray(x.reshape(shape).astype(np.float32)))
    outs = net.forward(names)
    with open(a.out, "wb") as f:
        for n, o in zip(names, outs):
            o = np.ascontiguousarray(o, dtype="<f4")
            f.write(o.tobytes())
            print("%s %s" % (n, "x".join(str(d) for d in o.shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
