#!/usr/bin/env python3
"""detect.py - libfacemask from Python with ctypes: the faces and masks of images, one JSON line
per image in the format of `facemask detect --json`.

    python3 detect.py photo.jpg [more.jpg ...]

The library is loaded as libfacemask.so.0 (found like any shared library: the system's library
path or LD_LIBRARY_PATH), or from the path in FACEMASK_LIB. The models are those installed with
it, or the folder in FACEMASK_MODELS. The structures mirror include/facemask.h.
"""
import ctypes
import json
import os
import sys


class Options(ctypes.Structure):  # fm_options
    _fields_ = [("model_dir", ctypes.c_char_p), ("detector", ctypes.c_char_p),
                ("classifier_dir", ctypes.c_char_p), ("detect_only", ctypes.c_int),
                ("threads", ctypes.c_int), ("det_width", ctypes.c_int),
                ("det_height", ctypes.c_int), ("conf", ctypes.c_float),
                ("max_faces", ctypes.c_int)]


class Result(ctypes.Structure):  # fm_result
    _fields_ = [("x1", ctypes.c_float), ("y1", ctypes.c_float), ("x2", ctypes.c_float),
                ("y2", ctypes.c_float), ("score", ctypes.c_float), ("nlandmarks", ctypes.c_int),
                ("landmarks", (ctypes.c_float * 2) * 5), ("mask_prob", ctypes.c_float),
                ("label", ctypes.c_char_p)]


def load(path):
    lib = ctypes.CDLL(path)
    lib.fm_version.restype = ctypes.c_char_p
    lib.fm_version.argtypes = [ctypes.POINTER(ctypes.c_int)] * 3
    lib.fm_open.restype = ctypes.c_void_p
    lib.fm_open.argtypes = [ctypes.POINTER(Options), ctypes.c_char_p, ctypes.c_size_t]
    lib.fm_close.argtypes = [ctypes.c_void_p]
    lib.fm_error.restype = ctypes.c_char_p
    lib.fm_error.argtypes = [ctypes.c_void_p]
    lib.fm_detect_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                   ctypes.POINTER(ctypes.POINTER(Result)),
                                   ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    return lib


def main(argv):
    if len(argv) < 2:
        print("usage: detect.py IMAGE...", file=sys.stderr)
        return 2
    lib = load(os.environ.get("FACEMASK_LIB", "libfacemask.so.0"))
    major = ctypes.c_int()
    lib.fm_version(ctypes.byref(major), None, None)
    if major.value != 0:  # the structures above are those of ABI 0
        print("detect.py: libfacemask %s, expected 0.x" % lib.fm_version(None, None, None).decode(),
              file=sys.stderr)
        return 1
    err = ctypes.create_string_buffer(1024)
    ctx = lib.fm_open(Options(), err, len(err))  # all fields zero: the defaults
    if not ctx:
        print("detect.py: " + err.value.decode(errors="replace"), file=sys.stderr)
        return 1
    status = 0
    try:
        for path in argv[1:]:
            faces = ctypes.POINTER(Result)()
            w, h = ctypes.c_int(), ctypes.c_int()
            n = lib.fm_detect_file(ctx, os.fsencode(path), ctypes.byref(faces), ctypes.byref(w),
                                   ctypes.byref(h))
            if n < 0:
                print("detect.py: " + lib.fm_error(ctx).decode(errors="replace"), file=sys.stderr)
                status = 1
                continue
            out = [{"box": [round(f.x1, 2), round(f.y1, 2), round(f.x2, 2), round(f.y2, 2)],
                    "score": round(f.score, 4), "label": f.label.decode(),
                    "mask_prob": round(f.mask_prob, 4)} for f in faces[:n]]
            print(json.dumps({"image": path, "width": w.value, "height": h.value, "faces": out},
                             separators=(",", ":")))
    finally:
        lib.fm_close(ctx)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
