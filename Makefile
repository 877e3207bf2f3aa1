# facemask build.
#   make            release build: build/facemask, build/tests
#   make asan       AddressSanitizer + UBSan build: build-asan/facemask, build-asan/tests
#   make test       builds both and runs the test suite under each
#   make tsan       ThreadSanitizer build: build-tsan/facemask, build-tsan/tests
#   make tsan-test  the threaded suites (pool, watch, RTSP) under ThreadSanitizer
#   make soak       an hour of `watch` on a restarted RTSP server (tools/soak.sh)
#   make fuzz       libFuzzer targets in build-fuzz/ (clang)
#   make fuzz-smoke every fuzz target for 60 s on its corpus (fails on any crash file)
#   make fuzz-long  every fuzz target for an hour
# Libraries come from Debian packages through pkg-config.

CC      ?= cc
# yaml-0.1 and sqlite3: the site config and history (src/site/), linked wherever the images are
IMG_PKGS   := libjpeg libpng freetype2 yaml-0.1 sqlite3
VIDEO_PKGS := libavformat libavcodec libavutil libswscale sdl2
PKGS    := $(IMG_PKGS) $(VIDEO_PKGS) libavdevice
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# libavdevice is compiled against but loaded with dlopen only for cameras (src/video/source.c)
PKG_LIBS   := $(shell pkg-config --libs $(IMG_PKGS) $(VIDEO_PKGS))
IMG_LIBS   := $(shell pkg-config --libs $(IMG_PKGS))
VIDEO_LIBS := $(shell pkg-config --libs $(VIDEO_PKGS))

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS_COMMON := $(CSTD) $(WARN) -Isrc $(PKG_CFLAGS) -MMD -MP -pthread
LDLIBS  := $(PKG_LIBS) -lm -pthread -ldl
# The facemask executable links only the image libraries; the video pipeline (FFmpeg, SDL2) is
# the plugin facemask-video.so beside it, loaded by `watch` and `bench --source`
# (src/app/watch_plugin.c). The executable exports its symbols for the plugin (-rdynamic).
EXE_LDLIBS := $(IMG_LIBS) -lm -pthread -ldl -rdynamic

REL_FLAGS  := -O2 -g -fno-math-errno
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread

LIB_SRC  := $(sort $(wildcard src/core/*.c src/nn/*.c src/nn/ops/*.c src/caffe/*.c src/onnx/*.c src/io/*.c src/face/*.c src/eval/*.c src/train/*.c src/data/*.c src/video/*.c src/track/*.c src/ui/*.c src/site/*.c))
APP_SRC  := $(sort $(wildcard src/app/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
PLUGIN_SRC := $(sort $(wildcard src/video/*.c src/ui/*.c)) src/app/watch.c
EXE_SRC  := $(filter-out $(PLUGIN_SRC),$(LIB_SRC) $(APP_SRC))

.PHONY: all asan tsan test test-release test-asan tsan-test soak fuzz clean models

all: build/facemask build/facemask-video.so build/tests

asan: build-asan/facemask build-asan/facemask-video.so build-asan/tests

tsan: build-tsan/facemask build-tsan/facemask-video.so build-tsan/tests

# --- object rules, one tree per flavour -----------------------------------
build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(REL_FLAGS) $(CFLAGS) -c $< -o $@

build-asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) $(CFLAGS) -c $< -o $@

build-tsan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(TSAN_FLAGS) $(CFLAGS) -c $< -o $@

build-tsan/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(TSAN_FLAGS) -fPIC $(CFLAGS) -c $< -o $@

build/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(REL_FLAGS) -fPIC $(CFLAGS) -c $< -o $@

build-asan/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) -fPIC $(CFLAGS) -c $< -o $@

EXE_OBJ_REL   := $(EXE_SRC:%.c=build/obj/%.o)
EXE_OBJ_ASAN  := $(EXE_SRC:%.c=build-asan/obj/%.o)
PLUGIN_OBJ_REL  := $(PLUGIN_SRC:%.c=build/pic/%.o)
PLUGIN_OBJ_ASAN := $(PLUGIN_SRC:%.c=build-asan/pic/%.o)
LIB_OBJ_REL   := $(LIB_SRC:%.c=build/obj/%.o)
LIB_OBJ_ASAN  := $(LIB_SRC:%.c=build-asan/obj/%.o)
APP_OBJ_REL   := $(APP_SRC:%.c=build/obj/%.o)
APP_OBJ_ASAN  := $(APP_SRC:%.c=build-asan/obj/%.o)
TEST_OBJ_REL  := $(TEST_SRC:%.c=build/obj/%.o)
EXE_OBJ_TSAN    := $(EXE_SRC:%.c=build-tsan/obj/%.o)
PLUGIN_OBJ_TSAN := $(PLUGIN_SRC:%.c=build-tsan/pic/%.o)
LIB_OBJ_TSAN    := $(LIB_SRC:%.c=build-tsan/obj/%.o)
TEST_OBJ_TSAN   := $(TEST_SRC:%.c=build-tsan/obj/%.o)
TEST_OBJ_ASAN := $(TEST_SRC:%.c=build-asan/obj/%.o)

# The test runner finds its suites by name: every `void suite_NAME(void)` in tests/.
build/gen/suites.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	grep -ho '^void suite_[a-z0-9_]*(void)' $(TEST_SRC) | sed 's/^void \(suite_[a-z0-9_]*\)(void)/FM_SUITE(\1)/' | sort -u > $@.tmp
	mv $@.tmp $@

build/obj/tests/main.o build-asan/obj/tests/main.o build-tsan/obj/tests/main.o: build/gen/suites.inc

# `facemask --version`: the version and the git revision built from, in build/gen/version.h,
# rewritten only when they change (so main.o is rebuilt then, and only then).
VERSION := 0.1.0
GIT_REV := $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || echo unknown)
APP_MAIN_OBJ := build/obj/src/app/main.o build-asan/obj/src/app/main.o build-tsan/obj/src/app/main.o
.PHONY: FORCE
build/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define FM_VERSION "%s"\n#define FM_GIT_REV "%s"\n' '$(VERSION)' '$(GIT_REV)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(APP_MAIN_OBJ): build/gen/version.h
$(APP_MAIN_OBJ): override CFLAGS += -Ibuild/gen
build/obj/tests/%.o build-asan/obj/tests/%.o build-tsan/obj/tests/%.o: override CFLAGS += -Ibuild/gen -Itests

build/facemask: $(EXE_OBJ_REL)
	$(CC) $(REL_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build/facemask-video.so: $(PLUGIN_OBJ_REL)
	$(CC) $(REL_FLAGS) -shared $^ -o $@ $(VIDEO_LIBS) -lm -pthread -ldl

build/tests: $(TEST_OBJ_REL) $(LIB_OBJ_REL) | build/rtsp_server
	$(CC) $(REL_FLAGS) $^ -o $@ $(LDLIBS)

build-asan/facemask: $(EXE_OBJ_ASAN)
	$(CC) $(ASAN_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build-asan/facemask-video.so: $(PLUGIN_OBJ_ASAN)
	$(CC) $(ASAN_FLAGS) -shared $^ -o $@ $(VIDEO_LIBS) -lm -pthread -ldl

build-asan/tests: $(TEST_OBJ_ASAN) $(LIB_OBJ_ASAN) | build/rtsp_server
	$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build-tsan/facemask: $(EXE_OBJ_TSAN)
	$(CC) $(TSAN_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build-tsan/facemask-video.so: $(PLUGIN_OBJ_TSAN)
	$(CC) $(TSAN_FLAGS) -shared $^ -o $@ $(VIDEO_LIBS) -lm -pthread -ldl

build-tsan/tests: $(TEST_OBJ_TSAN) $(LIB_OBJ_TSAN) | build/rtsp_server
	$(CC) $(TSAN_FLAGS) $^ -o $@ $(LDLIBS)

# Test helper for the video_rtsp suite: an RTSP server on 127.0.0.1 (GStreamer), not linked
# into facemask, so its packages stay out of PKGS; one flavour serves both test builds.
RTSP_PKGS := gstreamer-rtsp-server-1.0 gstreamer-1.0
build/rtsp_server: tests/helpers/rtsp_server.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(REL_FLAGS) $(shell pkg-config --cflags $(RTSP_PKGS)) $< -o $@ \
	    $(shell pkg-config --libs $(RTSP_PKGS))

# Micro-benchmark of the operator kernels on YuNet-n's layer shapes (not a test, not in `all`).
build/bench_yunet_layers: build/obj/tools/bench_yunet_layers.o $(LIB_OBJ_REL)
	$(CC) $(REL_FLAGS) $^ -o $@ $(LDLIBS)

# --- tests -----------------------------------------------------------------
# FM_SHARED points at the shared models and data (default ../shared).
# Both builds are made (in parallel with -j), then the suites run one after the
# other; tools/run-tests.sh prints one combined closing line.
test: build/tests build/facemask build/facemask-video.so build-asan/tests build-asan/facemask build-asan/facemask-video.so
	tools/run-tests.sh $(TESTS)

test-release: build/tests build/facemask build/facemask-video.so
	FM_BIN=build/facemask ./build/tests

test-asan: build-asan/tests build-asan/facemask build-asan/facemask-video.so
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	FM_BIN=build-asan/facemask FM_SANITIZED=1 ./build-asan/tests

# The threaded tests under ThreadSanitizer (CI runs this after `make test`): the thread pool,
# watch end to end (capture, inference and output threads) and the RTSP sources. A data race ends the process with status 66, which fails the test that ran it.
# FFmpeg's own threads are not instrumented: tools/tsan.supp says why they are suppressed.
# The threaded tests that stay quick under TSan (~5-15x slower): the pool, the RTSP sources,
# watch with --every 2 (the counters the capture and output threads share) and watch through an
# RTSP server killed, restarted and stalled. The whole watch suite is too slow for CI here.
TSAN_SUITES ?= test_pool_runs test_pool_split video_rtsp test_faults_every \
               test_faults_rtsp_killed test_faults_silent
tsan-test: build-tsan/tests build-tsan/facemask build-tsan/facemask-video.so
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$(CURDIR)/tools/tsan.supp \
	FM_BIN=build-tsan/facemask FM_SANITIZED=1 ./build-tsan/tests $(TSAN_SUITES)

# An hour of `watch` on the test RTSP server restarted every 5 minutes, events and recording
# on: RSS over time, reconnects, frames accounted for. SOAK_SECONDS shortens it.
soak: build/facemask build/facemask-video.so build/rtsp_server
	tools/soak.sh

# --- fuzzing (clang + libFuzzer) ---------------------------------------------
# One target per fuzz/fuzz_NAME.c, its corpus in fuzz/corpus-NAME/ (sh fuzz/seed_corpora.sh).
# The library is compiled once with coverage (fuzzer-no-link) and the sanitizers, then each
# target links it. `make fuzz-smoke` runs every target FUZZ_SMOKE_SECONDS (60) on its corpus
# and fails on any crash, leak, timeout or out-of-memory file; `make fuzz-long` runs each for
# FUZZ_LONG_SECONDS (an hour). Crash files land in build-fuzz/artifacts/.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_SAN := address,undefined,float-divide-by-zero,float-cast-overflow
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=$(FUZZ_SAN) -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_LONG_SECONDS ?= 3600

.PHONY: fuzz-smoke fuzz-long
.SECONDARY: $(FUZZ_LIB_OBJ)

fuzz: $(FUZZ_BIN)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CSTD) -Isrc $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -pthread \
	    -c $< -o $@

build-fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	clang $(CSTD) -Isrc $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -pthread $< $(FUZZ_LIB_OBJ) \
	    -o $@ $(LDLIBS)

fuzz-smoke: $(FUZZ_BIN)
	tools/fuzz-run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

fuzz-long: $(FUZZ_BIN)
	tools/fuzz-run.sh $(FUZZ_LONG_SECONDS) $(FUZZ_BIN)

# --- models: links to ../shared, never copies ----------------------------------
models:
	@mkdir -p models
	@test -e models/res10 || ln -s ../../shared/models/res10 models/res10
	@test -e models/mobilenet_v2 || ln -s ../../shared/models/mobilenet_v2 models/mobilenet_v2
	@test -e models/yunet || ln -s ../../shared/models/yunet models/yunet

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(LIB_OBJ_REL:.o=.d) $(APP_OBJ_REL:.o=.d) $(TEST_OBJ_REL:.o=.d)
-include $(LIB_OBJ_ASAN:.o=.d) $(APP_OBJ_ASAN:.o=.d) $(TEST_OBJ_ASAN:.o=.d)
-include $(PLUGIN_OBJ_REL:.o=.d) $(PLUGIN_OBJ_ASAN:.o=.d)
-include $(FUZZ_LIB_OBJ:.o=.d)
-include $(EXE_OBJ_TSAN:.o=.d) $(PLUGIN_OBJ_TSAN:.o=.d) $(LIB_OBJ_TSAN:.o=.d) $(TEST_OBJ_TSAN:.o=.d)
