#!/bin/sh
# Fills fuzz/corpus-prototxt/ and fuzz/corpus-caffemodel/ (git-ignored) with seeds:
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
