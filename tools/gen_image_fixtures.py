#!/usr/bin/python3
"""Generates the image test fixtures in tests/fixtures/image/ with OpenCV 4.6 as the reference.

    /usr/bin/python3 tools/gen_image_fixtures.py [--shared ../shared]

Writes (all small, all lossless except the EXIF JPEGs):
  rs_<name>_src.png             seeded random BGR source images
  rs_<name>_<W>x<H>.png         cv2.resize(src, (W, H), interpolation=cv2.INTER_LINEAR)
  resize_cases.txt              one case per line: source expected W H
  demo_hashes.txt               FNV-1a 64 hashes of OpenCV results on demo photos from ../shared
                                (the photos are not copied here): decode, and resize of a crop
  blob_<name>.txt               cv2.dnn.blobFromImage results as float bit patterns (hex)
  exif_o<N>.jpg                 JPEGs carrying EXIF orientation N (1..8) whose upright view is
                                the same picture; N odd little-endian TIFF, N even big-endian
  exif_o6.png                   a PNG with an eXIf chunk, orientation 6
  exif_upright.png              the upright picture, lossless
  huge_ihdr.png                 a PNG whose IHDR claims 100000x100000 (valid CRC, no data)
  notes.txt                     a text file, empty.jpg a zero-byte file
"""
import argparse
import os
import struct
import sys
import zlib

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "image")


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv_image(img: np.ndarray) -> int:
    """Hash of a uint8 HxWx3 image, rows packed (matches the C test's helper)."""
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    return fnv1a64(np.ascontiguousarray(img).tobytes())


def write_png(name: str, img: np.ndarray) -> None:
    path = os.path.join(OUT, name)
    assert cv2.imwrite(path, img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    back = cv2.imread(path, cv2.IMREAD_COLOR)
    assert back is not None and np.array_equal(back, img), name


def resize_fixtures() -> None:
    # (name, source width, source height, smooth?, [targets])
    specs = [
        ("a", 37, 23, False, [(64, 48), (19, 11), (74, 46), (150, 110), (13, 17), (37, 50)]),
        ("b", 40, 30, False, [(20, 15), (13, 10), (40, 60), (21, 15), (80, 60), (7, 3)]),
        ("c", 1, 17, False, [(5, 9), (1, 40), (3, 17)]),
        ("d", 17, 1, False, [(3, 4), (40, 1), (17, 2)]),
        ("e", 1, 1, False, [(4, 3)]),
        ("f", 96, 72, True, [(150, 150), (112, 112), (48, 36), (47, 33), (31, 70)]),
        # integer factors: only exactly 2x in both directions takes OpenCV's area path
        ("g", 48, 36, True, [(16, 12), (12, 9), (24, 36), (48, 18), (24, 18), (96, 72), (144, 108)]),
    ]
    lines = []
    for name, w, h, smooth, targets in specs:
        rng = np.random.default_rng(1000 + ord(name))  # one stream per source image
        if smooth:
            # A smooth random field: low-frequency noise upsampled, plus fine noise.
            base = rng.integers(0, 256, size=(h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
            img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
            img += rng.integers(-12, 13, size=img.shape, dtype=np.int16)
            src = np.clip(img, 0, 255).astype(np.uint8)
        else:
            src = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            src[0, 0] = (0, 0, 0)
            if w > 1 and h > 1:
                src[-1, -1] = (255, 255, 255)
        sname = f"rs_{name}_src.png"
        write_png(sname, src)
        for tw, th in targets:
            dst = cv2.resize(src, (tw, th), interpolation=cv2.INTER_LINEAR)
            dname = f"rs_{name}_{tw}x{th}.png"
            write_png(dname, dst)
            lines.append(f"{sname} {dname} {tw} {th}")
    with open(os.path.join(OUT, "resize_cases.txt"), "w") as f:
        f.write("# source expected W H: expected = cv2.resize(source, (W, H), INTER_LINEAR)\n")
        f.write("\n".join(lines) + "\n")


def demo_hashes(shared: str) -> None:
    # Demo photos stay in ../shared; only hashes of OpenCV's results are committed.
    # Line: file decode|crop x y w h W H  hash
    lines = ["# file op args... fnv1a64 (of packed BGR rows); crop = cv2.resize(img[y:y+h, x:x+w], (W, H))"]
    demos = ["pyimagesearch_example_01.png", "pyimagesearch_example_02.png",
             "uengmim_test_image.png", "aizoo_demo2.jpg", "coral_face.jpg",
             "chandrikadeb7_pic3.jpg"]
    for d in demos:
        img = cv2.imread(os.path.join(shared, "demo", d), cv2.IMREAD_COLOR)
        assert img is not None, d
        lines.append(f"{d} decode {img.shape[1]} {img.shape[0]} {fnv_image(img):016x}")
    crops = [
        ("pyimagesearch_example_01.png", 100, 80, 211, 157, 300, 300),
        ("pyimagesearch_example_01.png", 0, 0, 600, 500, 300, 300),
        ("pyimagesearch_example_02.png", 31, 45, 120, 90, 60, 45),
        ("uengmim_test_image.png", 200, 100, 150, 170, 224, 224),
        ("aizoo_demo2.jpg", 0, 0, 464, 330, 300, 300),
        ("coral_face.jpg", 10, 20, 301, 199, 97, 61),
    ]
    for d, x, y, w, h, tw, th in crops:
        img = cv2.imread(os.path.join(shared, "demo", d), cv2.IMREAD_COLOR)
        out = cv2.resize(img[y:y + h, x:x + w], (tw, th), interpolation=cv2.INTER_LINEAR)
        lines.append(f"{d} crop {x} {y} {w} {h} {tw} {th} {fnv_image(out):016x}")
    with open(os.path.join(OUT, "demo_hashes.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def blob_fixtures() -> None:
    rng = np.random.default_rng(2000)
    src = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    write_png("blob_src.png", src)
    cases = [
        ("res10", 1.0, (4, 3), (104.0, 177.0, 123.0), False),
        ("swap", 0.017, (9, 6), (103.53, 116.28, 123.675), True),
        ("same", 1.0 / 128, (7, 5), (128.0, 128.0, 128.0), True),
    ]
    for name, scale, size, mean, swap in cases:
        blob = cv2.dnn.blobFromImage(src, scale, size, mean, swap, crop=False)
        assert blob.dtype == np.float32 and blob.shape == (1, 3, size[1], size[0])
        bits = blob.reshape(-1).view(np.uint32)
        with open(os.path.join(OUT, f"blob_{name}.txt"), "w") as f:
            f.write(f"# cv2.dnn.blobFromImage(blob_src.png, {scale!r}, {size}, {mean}, swapRB={swap}, crop=False)\n")
            f.write(f"{scale!r} {size[0]} {size[1]} {mean[0]!r} {mean[1]!r} {mean[2]!r} {int(swap)}\n")
            for i in range(0, len(bits), 8):
                f.write(" ".join(f"{b:08x}" for b in bits[i:i + 8]) + "\n")


def tiff_orientation(o: int, big: bool) -> bytes:
    e = ">" if big else "<"
    head = (b"MM" if big else b"II") + struct.pack(e + "HI", 42, 8)
    # IFD0: two entries (an ImageDescription-like filler before Orientation), then next-IFD = 0.
    ifd = struct.pack(e + "H", 2)
    ifd += struct.pack(e + "HHII", 0x011A, 5, 1, 8 + 2 + 24 + 4)  # XResolution -> rational below
    ifd += struct.pack(e + "HHIHH", 0x0112, 3, 1, o, 0)
    ifd += struct.pack(e + "I", 0)
    return head + ifd + struct.pack(e + "II", 72, 1)


def stored_for(upright: np.ndarray, o: int) -> np.ndarray:
    """The stored pixels that a viewer turns into `upright` for EXIF orientation o."""
    if o == 1:
        return upright
    if o == 2:
        return upright[:, ::-1]
    if o == 3:
        return upright[::-1, ::-1]
    if o == 4:
        return upright[::-1, :]
    if o == 5:
        return upright.transpose(1, 0, 2)
    if o == 6:
        return np.rot90(upright, 1)  # viewer rotates 90 clockwise
    if o == 7:
        return upright.transpose(1, 0, 2)[::-1, ::-1]
    if o == 8:
        return np.rot90(upright, -1)
    raise ValueError(o)


def exif_fixtures() -> None:
    # Upright picture 48x32: 16x16 blocks of distinct colours, so every rotation and flip differs.
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255), (255, 255, 0)]
    up = np.zeros((32, 48, 3), np.uint8)
    for by in range(2):
        for bx in range(3):
            up[by * 16:(by + 1) * 16, bx * 16:(bx + 1) * 16] = colours[by * 3 + bx]
    up[0:4, 0:4] = (255, 255, 255)  # a white top-left corner
    write_png("exif_upright.png", up)
    for o in range(1, 9):
        stored = np.ascontiguousarray(stored_for(up, o))
        ok, jpg = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        jpg = jpg.tobytes()
        payload = b"Exif\0\0" + tiff_orientation(o, big=(o % 2 == 0))
        app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
        data = jpg[:2] + app1 + jpg[2:]
        path = os.path.join(OUT, f"exif_o{o}.jpg")
        with open(path, "wb") as f:
            f.write(data)
        seen = cv2.imread(path, cv2.IMREAD_COLOR)  # OpenCV applies EXIF orientation too
        assert seen.shape == up.shape, (o, seen.shape)
        # Colour edges blur under 4:2:0 chroma, so compare block centres and the mean.
        diff = np.abs(seen.astype(int) - up.astype(int))
        centres = diff[8::16, 8::16].max()
        assert centres <= 8 and diff[1, 1].max() <= 40 and diff.mean() < 8, (o, centres, diff.mean())
    # PNG with eXIf (orientation 6): chunk inserted right after IHDR.
    stored = np.ascontiguousarray(stored_for(up, 6))
    ok, png = cv2.imencode(".png", stored)
    png = png.tobytes()
    ihdr_end = 8 + 8 + 13 + 4
    body = tiff_orientation(6, big=False)
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + body) & 0xFFFFFFFF)
    with open(os.path.join(OUT, "exif_o6.png"), "wb") as f:
        f.write(png[:ihdr_end] + chunk + png[ihdr_end:])


def hostile_fixtures() -> None:
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n"
    data += struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 64)
    data += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    data += struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    with open(os.path.join(OUT, "huge_ihdr.png"), "wb") as f:
        f.write(data)
    with open(os.path.join(OUT, "notes.txt"), "w") as f:
        f.write("# facemask notes: this is not an image\n")
    open(os.path.join(OUT, "empty.jpg"), "wb").close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    args = ap.parse_args()
    assert cv2.__version__.startswith("4.6"), cv2.__version__
    os.makedirs(OUT, exist_ok=True)
    resize_fixtures()
    blob_fixtures()
    demo_hashes(args.shared)
    exif_fixtures()
    hostile_fixtures()
    print(f"fixtures written to {os.path.normpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
