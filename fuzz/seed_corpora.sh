#!/bin/sh
# Fills one fuzz/corpus-NAME/ (git-ignored) per target fuzz/fuzz_NAME.c with seeds:
# prototxt, caffemodel, caffe_net, voc, onnx, image, json, site_config and mqtt_msg. Seeds are:
# the shared prototxts, the small committed caffemodel fixtures, and the first
# few KB of the shared caffemodels (big seeds slow libFuzzer down).
#   sh fuzz/seed_corpora.sh [SHARED]      (SHARED defaults to ../shared)
set -e
cd "$(dirname "$0")/.."
SHARED=${1:-${FM_SHARED:-../shared}}
mkdir -p fuzz/corpus-prototxt fuzz/corpus-caffemodel
cp "$SHARED/models/res10/deploy.prototxt" fuzz/corpus-prototxt/res10.prototxt
cp "$SHARED/models/mobilenet_v2/mobilenet_v2.prototxt" fuzz/corpus-prototxt/mobilenet_v2.prototxt
head -c 2000 "$SHARED/models/res10/deploy.prototxt" > fuzz/corpus-prototxt/res10_head.prototxt
printf 'a: "s\\t\\x41\\101" b: -1.5e3 c < d: [1, 2] > e: { f: inf } g: 0x1F ; h: CONST\n' \
    > fuzz/corpus-prototxt/syntax.prototxt
cp tests/fixtures/caffe/*.caffemodel fuzz/corpus-caffemodel/
head -c 4096 "$SHARED/models/res10/res10_300x300_ssd_iter_140000.caffemodel" \
    > fuzz/corpus-caffemodel/res10_head.caffemodel
head -c 4096 "$SHARED/models/mobilenet_v2/mobilenet_v2.caffemodel" \
    > fuzz/corpus-caffemodel/mobilenet_head.caffemodel
echo "seeded: $(ls fuzz/corpus-prototxt | wc -l) prototxt, $(ls fuzz/corpus-caffemodel | wc -l) caffemodel"
mkdir -p fuzz/corpus-voc
for n in maksssksksss0 maksssksksss10 maksssksksss296 maksssksksss446; do
    cp "$SHARED/data/mask_det/annotations/$n.xml" fuzz/corpus-voc/
done
echo "seeded: $(ls fuzz/corpus-voc | wc -l) voc"
# ONNX: both YuNet files whole, plus "slim" copies with every initializer cut to at most
# 4 values (dims rewritten to match) so most seeds are all structure and mutate fast.
mkdir -p fuzz/corpus-onnx
rm -f fuzz/corpus-onnx/yunet_n.onnx fuzz/corpus-onnx/yunet_2023mar.onnx  # copies of read-only files
cp "$SHARED/models/yunet/yunet_n_640_640.onnx" fuzz/corpus-onnx/yunet_n.onnx
cp "$SHARED/models/yunet/face_detection_yunet_2023mar.onnx" fuzz/corpus-onnx/yunet_2023mar.onnx
chmod u+w fuzz/corpus-onnx/*.onnx
if command -v python3 >/dev/null; then
    python3 - fuzz/corpus-onnx/yunet_n.onnx fuzz/corpus-onnx/yunet_2023mar.onnx <<'PY'
import sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def enc(v):
    out = bytearray()
    while v >= 0x80: out.append(v & 0x7f | 0x80); v >>= 7
    out.append(v); return bytes(out)
def fields(b):
    i = 0
    while i < len(b):
        start = i; t, i = varint(b, i); w = t & 7
        if w == 0: _, i = varint(b, i)
        elif w == 1: i += 8
        elif w == 5: i += 4
        elif w == 2: n, i = varint(b, i); i += n
        else: raise ValueError(w)
        yield t >> 3, w, b[start:i]
def payload(raw):
    _, i = varint(raw, 0); _, i = varint(raw, i); return raw[i:]
def ld(field, data): return enc(field << 3 | 2) + enc(len(data)) + data
def slim_tensor(t):
    fs = list(fields(t)); dt = 1
    for f, w, r in fs:
        if f == 2: dt = varint(r, 1)[0]
    size = {1: 4, 6: 4, 7: 8}.get(dt)
    out = b''
    for f, w, r in fs:
        if size and f == 9:
            data = payload(r)[:4 * size]
            out += enc(1 << 3) + enc(len(data) // size) + ld(9, data)
        elif not (size and f == 1): out += r
    return out
def slim_graph(g): return b''.join(ld(5, slim_tensor(payload(r))) if f == 5 else r for f, w, r in fields(g))
for path in sys.argv[1:]:
    b = open(path, 'rb').read()
    out = b''.join(ld(7, slim_graph(payload(r))) if f == 7 else r for f, w, r in fields(b))
    open(path.replace('.onnx', '_slim.onnx'), 'wb').write(out)
PY
fi
echo "seeded: $(ls fuzz/corpus-onnx | wc -l) onnx"
# Images: the small committed fixtures (PNG and JPEG, EXIF orientations, odd sizes) and the
# first KB of a demo photo; big seeds slow libFuzzer down.
mkdir -p fuzz/corpus-image
for f in tests/fixtures/image/*.png tests/fixtures/image/*.jpg; do
    [ "$(wc -c < "$f")" -le 20000 ] && cp "$f" fuzz/corpus-image/
done
head -c 2048 "$SHARED/demo/aizoo_demo2.jpg" > fuzz/corpus-image/aizoo_head.jpg
echo "seeded: $(ls fuzz/corpus-image | wc -l) image"
# Networks from a prototxt: the committed seeds (they match the target's fixed caffemodel)
# and the shared prototxts (which fail at their first weighted layer, past parsing).
mkdir -p fuzz/corpus-caffe_net
cp fuzz/seeds/caffe_net/*.prototxt fuzz/corpus-caffe_net/
cp "$SHARED/models/res10/deploy.prototxt" fuzz/corpus-caffe_net/res10.prototxt
echo "seeded: $(ls fuzz/corpus-caffe_net | wc -l) caffe_net"
# JSON writers: a budget byte, then NUL-separated strings with escapes, UTF-8 of each
# length, and ill-formed sequences.
mkdir -p fuzz/corpus-json
printf '\000plain\000rtsp://cam/1\000reason\000end' > fuzz/corpus-json/plain
printf '\010quote " back \\ nl \n tab \t\000\001\037\177\000k\000v' > fuzz/corpus-json/escapes
printf '\005caf\303\251 \342\202\254 \360\237\230\267\000\360\237\230\267\360\237\230\267\000x\000y' \
    > fuzz/corpus-json/utf8
printf '\003\377\376 \300\257 \355\240\200 \364\220\200\200 \360\237\230\000\200\000\341\000z' \
    > fuzz/corpus-json/ill_formed
echo "seeded: $(ls fuzz/corpus-json | wc -l) json"
mkdir -p fuzz/corpus-site_config
cp docs/site.example.yaml fuzz/corpus-site_config/example.yaml
cp fuzz/seeds/site_config/*.yaml fuzz/corpus-site_config/
echo "seeded: $(ls fuzz/corpus-site_config | wc -l) site_config"
mkdir -p fuzz/corpus-mqtt_msg
cp fuzz/seeds/mqtt_msg/*.json fuzz/corpus-mqtt_msg/
echo "seeded: $(ls fuzz/corpus-mqtt_msg | wc -l) mqtt_msg"
