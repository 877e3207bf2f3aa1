#!/usr/bin/python3
"""Makes the small .caffemodel fixtures for tests/test_caffemodel.c.

    /usr/bin/python3 tools/make_fp16_caffemodel.py tests/fixtures/caffe

writes, independently of facemask's C code:
  tiny.caffemodel       a float32 NetParameter (current `layer` form) encoded by the
                        minimal protobuf writer below: a Convolution (2 blobs), a
                        BatchNorm (3 blobs), an InnerProduct (2 blobs, legacy
                        num/channels/height/width shape) and a ReLU (no blobs); the
                        weights include values that exercise fp16 rounding (ties,
                        subnormals, overflow to infinity, -0.0)
  tiny_fp16.caffemodel  the same model converted by OpenCV's own
                        cv2.dnn.shrinkCaffeModel (Convolution and InnerProduct blobs
                        become raw_data_type FLOAT16 + raw_data, as in OpenCV's
                        res10_300x300_ssd_iter_140000_fp16.caffemodel)
  tiny_v1.caffemodel    the same weights in the legacy V1 `layers` form (enum layer
                        types, unpacked float data, legacy 4-D shapes, one blob as
                        double_data)

Field numbers are from OpenCV's opencv-caffe.proto (NetParameter name=1, layers=2,
layer=100; LayerParameter name=1 type=2 blobs=7; V1LayerParameter name=4 type=5
blobs=6; BlobProto num..width=1..4 data=5 shape=7 double_data=8).
Any other caffemodel can be shrunk with --shrink SRC DST.
"""
import struct
import sys
import os


def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def len_field(field, payload):
    return tag(field, 2) + varint(len(payload)) + payload


def str_field(field, s):
    return len_field(field, s.encode())


def packed_floats(field, vals):
    return len_field(field, struct.pack("<%df" % len(vals), *vals))


def unpacked_floats(field, vals):
    return b"".join(tag(field, 5) + struct.pack("<f", v) for v in vals)


def packed_doubles(field, vals):
    return len_field(field, struct.pack("<%dd" % len(vals), *vals))


def blob_v2(shape, vals):
    dims = b"".join(varint(d) for d in shape)
    return packed_floats(5, vals) + len_field(7, len_field(1, dims))


def blob_legacy(shape4, vals, unpacked=False, double=False):
    out = b""
    for i, d in enumerate(shape4):
        out += tag(i + 1, 0) + varint(d)
    if double:
        out += packed_doubles(8, vals)
    elif unpacked:
        out += unpacked_floats(5, vals)
    else:
        out += packed_floats(5, vals)
    return out


def lcg_values(n, seed, lo=-2.0, hi=2.0):
    """Deterministic pseudo-random floats (exactly representable as float32)."""
    out = []
    x = seed
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        u = (x >> 40) / float(1 << 24)
        out.append(struct.unpack("<f", struct.pack("<f", lo + (hi - lo) * u))[0])
    return out


# Values whose fp16 rounding is easy to get wrong.
EDGE = [
    0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 70000.0, -1e6,
    2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -24, 2.5 * 2.0 ** -24, 2.0 ** -25 * 1.0000002,
    2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 1e-10, 6e-8, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,
    1.0 + 2.0 ** -11 + 2.0 ** -20, 0.1, 1.0 / 3.0, 3.14159265, 1000.5, 2049.0, 2051.0,
]
EDGE = [struct.unpack("<f", struct.pack("<f", v))[0] for v in EDGE]


def model_layers():
    conv_w = EDGE + lcg_values(4 * 3 * 3 * 3 - len(EDGE), 1)
    conv_b = lcg_values(4, 2)
    bn = [lcg_values(4, 3), lcg_values(4, 4, 0.5, 2.0), [1.0]]
    fc_w = lcg_values(3 * 36, 5, -0.5, 0.5)
    fc_b = lcg_values(3, 6)
    return conv_w, conv_b, bn, fc_w, fc_b


def tiny_v2():
    conv_w, conv_b, bn, fc_w, fc_b = model_layers()
    conv = (str_field(1, "conv1") + str_field(2, "Convolution") + str_field(3, "data") +
            str_field(4, "conv1") + len_field(7, blob_v2([4, 3, 3, 3], conv_w)) +
            len_field(7, blob_v2([4], conv_b)))
    bnl = (str_field(1, "conv1_bn") + str_field(2, "BatchNorm") +
           len_field(7, blob_v2([4], bn[0])) + len_field(7, blob_v2([4], bn[1])) +
           len_field(7, blob_v2([1], bn[2])))
    relu = str_field(1, "relu1") + str_field(2, "ReLU")
    fc = (str_field(1, "fc") + str_field(2, "InnerProduct") +
          len_field(7, blob_legacy([1, 1, 3, 36], fc_w)) +
          len_field(7, blob_legacy([1, 1, 1, 3], fc_b)))
    return (str_field(1, "tiny") + str_field(3, "data") +
            b"".join(len_field(100, l) for l in (conv, bnl, relu, fc)))


def tiny_v1():
    conv_w, conv_b, bn, fc_w, fc_b = model_layers()
    conv = (str_field(4, "conv1") + tag(5, 0) + varint(4) +
            len_field(6, blob_legacy([4, 3, 3, 3], conv_w, unpacked=True)) +
            len_field(6, blob_legacy([1, 1, 1, 4], conv_b, double=True)))
    relu = str_field(4, "relu1") + tag(5, 0) + varint(18)
    fc = (str_field(4, "fc") + tag(5, 0) + varint(14) +
          len_field(6, blob_legacy([1, 1, 3, 36], fc_w)) +
          len_field(6, blob_legacy([1, 1, 1, 3], fc_b)))
    return str_field(1, "tiny_v1") + b"".join(len_field(2, l) for l in (conv, relu, fc))


def shrink(src, dst):
    import cv2  # python3-opencv: OpenCV's own converter is the reference

    cv2.dnn.shrinkCaffeModel(src, dst)


def main(argv):
    if len(argv) == 4 and argv[1] == "--shrink":
        shrink(argv[2], argv[3])
        return 0
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    f32 = os.path.join(out, "tiny.caffemodel")
    with open(f32, "wb") as f:
        f.write(tiny_v2())
    with open(os.path.join(out, "tiny_v1.caffemodel"), "wb") as f:
        f.write(tiny_v1())
    shrink(f32, os.path.join(out, "tiny_fp16.caffemodel"))
    for name in ("tiny.caffemodel", "tiny_fp16.caffemodel", "tiny_v1.caffemodel"):
        print("%s: %d bytes" % (name, os.path.getsize(os.path.join(out, name))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
