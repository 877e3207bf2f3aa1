# facemask build.
#   make            release build: build/facemask, build/facemask-video.so, build/tests, and
#                   libfacemask (build/libfacemask.a, build/libfacemask.so)
#   make asan       AddressSanitizer + UBSan build: build-asan/facemask, build-asan/tests
#   make test       builds both and runs the test suite under each
#   make tsan       ThreadSanitizer build: build-tsan/facemask, build-tsan/tests
#   make tsan-test  the threaded suites (pool, watch, RTSP) under ThreadSanitizer
#   make soak       an hour of `watch` on a restarted RTSP server (tools/soak.sh)
#   make soak-serve 30 minutes of `serve` (2 cameras, MQTT, HTTP), the broker restarted twice
#   make bench-site 4 cameras through `serve`: fps and latency per camera (tools/bench-site.sh)
#   make bench-live 2 cameras with and without 50 live-view clients (tools/bench-live.sh)
#   make fuzz       libFuzzer targets in build-fuzz/ (clang)
#   make fuzz-smoke every fuzz target for 60 s on its corpus (fails on any crash file)
#   make fuzz-long  every fuzz target for an hour
#   make install    PREFIX=/usr/local (DESTDIR too): the binary, the video plugin, the models,
#                   libfacemask (.a, .so, facemask.h, facemask.pc); make uninstall removes them
# Libraries come from Debian packages through pkg-config.

CC      ?= cc
# yaml-0.1 and sqlite3: the site config and history (src/site/), linked wherever the images are
IMG_PKGS   := libjpeg libpng freetype2 yaml-0.1 sqlite3
VIDEO_PKGS := libavformat libavcodec libavutil libswscale sdl2
# libmosquitto, libmicrohttpd and libcrypt: `facemask serve` (src/serve/), which lives in the
# video plugin with watch, so neither the executable nor libfacemask links them
SERVE_PKGS := libmosquitto libmicrohttpd libcrypt
PKGS    := $(IMG_PKGS) $(VIDEO_PKGS) $(SERVE_PKGS) libavdevice
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# libavdevice is compiled against but loaded with dlopen only for cameras (src/video/source.c)
PKG_LIBS   := $(shell pkg-config --libs $(IMG_PKGS) $(VIDEO_PKGS) $(SERVE_PKGS))
IMG_LIBS   := $(shell pkg-config --libs $(IMG_PKGS))
VIDEO_LIBS := $(shell pkg-config --libs $(VIDEO_PKGS) $(SERVE_PKGS))

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS_COMMON := $(CSTD) $(WARN) -Isrc -Iinclude $(PKG_CFLAGS) -MMD -MP -pthread
LDLIBS  := $(PKG_LIBS) -lm -pthread -ldl
# The facemask executable links only the image libraries; the video pipeline (FFmpeg, SDL2) is
# the plugin facemask-video.so, loaded by `watch` and `bench --source` (src/app/watch_plugin.c).
# The plugin links its own copy of libfacemask (src/app/video_plugin.h says why that is safe), so
# the executable exports nothing.
EXE_LDLIBS := $(IMG_LIBS) -lm -pthread -ldl

REL_FLAGS  := -O2 -g -fno-math-errno
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread

# --- libfacemask ---------------------------------------------------------------
# One compile of the library serves the static archive (which the CLI, the tests, the plugin
# and the fuzz targets link), the shared library and the plugin: position-independent, with
# every symbol hidden except the public API (include/facemask.h marks it FM_API).
# -fno-semantic-interposition keeps calls inside the library direct, as in an executable.
# The version is written once, in include/facemask.h.
VERSION := $(shell sed -n 's/^\#define FM_VERSION_STRING "\(.*\)"/\1/p' include/facemask.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libfacemask.so.$(SOMAJOR)
SOFILE  := libfacemask.so.$(VERSION)
PIC     := -fPIC -fno-semantic-interposition
LIB_VIS := -fvisibility=hidden
AR      ?= ar

LIB_SRC  := $(sort $(wildcard src/core/*.c src/nn/*.c src/nn/ops/*.c src/caffe/*.c src/onnx/*.c src/io/*.c src/face/*.c src/eval/*.c src/train/*.c src/data/*.c src/track/*.c src/site/*.c src/lib/*.c))
API_SRC  := $(sort $(wildcard src/lib/*.c))
VIDEO_SRC := $(sort $(wildcard src/video/*.c src/ui/*.c src/serve/*.c)) build/gen/web_assets.c
PLUGIN_SRC := $(VIDEO_SRC) src/app/watch.c src/app/video_plugin.c
APP_SRC  := $(filter-out $(PLUGIN_SRC),$(sort $(wildcard src/app/*.c)))
TEST_SRC := $(sort $(wildcard tests/*.c))

.PHONY: all asan tsan test test-release test-asan tsan-test soak soak-serve bench-site bench-live fuzz clean models lib \
        install uninstall

all: build/facemask build/facemask-video.so build/tests lib models

lib: build/libfacemask.a build/libfacemask.so

asan: build-asan/facemask build-asan/facemask-video.so build-asan/tests

tsan: build-tsan/facemask build-tsan/facemask-video.so build-tsan/tests

# --- object rules, one tree per flavour: obj/ the executables', pic/ the libraries' ----------
build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(REL_FLAGS) $(CFLAGS) -c $< -o $@

build-asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) $(CFLAGS) -c $< -o $@

build-tsan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(TSAN_FLAGS) $(CFLAGS) -c $< -o $@

build/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(REL_FLAGS) $(PIC) $(VIS) $(CFLAGS) -c $< -o $@

build-asan/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) $(PIC) $(VIS) $(CFLAGS) -c $< -o $@

build-tsan/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(TSAN_FLAGS) $(PIC) $(VIS) $(CFLAGS) -c $< -o $@

LIB_OBJ_REL     := $(LIB_SRC:%.c=build/pic/%.o)
LIB_OBJ_ASAN    := $(LIB_SRC:%.c=build-asan/pic/%.o)
LIB_OBJ_TSAN    := $(LIB_SRC:%.c=build-tsan/pic/%.o)
API_OBJ_REL     := $(API_SRC:%.c=build/pic/%.o)
VIDEO_OBJ_REL   := $(VIDEO_SRC:%.c=build/pic/%.o)
VIDEO_OBJ_ASAN  := $(VIDEO_SRC:%.c=build-asan/pic/%.o)
VIDEO_OBJ_TSAN  := $(VIDEO_SRC:%.c=build-tsan/pic/%.o)
PLUGIN_OBJ_REL  := $(PLUGIN_SRC:%.c=build/pic/%.o)
PLUGIN_OBJ_ASAN := $(PLUGIN_SRC:%.c=build-asan/pic/%.o)
PLUGIN_OBJ_TSAN := $(PLUGIN_SRC:%.c=build-tsan/pic/%.o)
APP_OBJ_REL     := $(APP_SRC:%.c=build/obj/%.o)
APP_OBJ_ASAN    := $(APP_SRC:%.c=build-asan/obj/%.o)
APP_OBJ_TSAN    := $(APP_SRC:%.c=build-tsan/obj/%.o)
TEST_OBJ_REL    := $(TEST_SRC:%.c=build/obj/%.o)
TEST_OBJ_ASAN   := $(TEST_SRC:%.c=build-asan/obj/%.o)
TEST_OBJ_TSAN   := $(TEST_SRC:%.c=build-tsan/obj/%.o)

# the library's internals are hidden; the plugin's objects keep default visibility and its
# version script decides what it exports
$(LIB_OBJ_REL) $(LIB_OBJ_ASAN) $(LIB_OBJ_TSAN): VIS := $(LIB_VIS)

build/libfacemask.a: $(LIB_OBJ_REL)
	rm -f $@
	$(AR) rcs $@ $^

build-asan/libfacemask.a: $(LIB_OBJ_ASAN)
	rm -f $@
	$(AR) rcs $@ $^

build-tsan/libfacemask.a: $(LIB_OBJ_TSAN)
	rm -f $@
	$(AR) rcs $@ $^

# libfacemask.so.MAJOR.MINOR.PATCH, soname libfacemask.so.MAJOR; it exports exactly the fm_*
# functions of include/facemask.h (src/lib/facemask.map; tests/test_lib.c compares them).
# The API objects are named and the rest comes from the archive, as the API needs it.
build/$(SOFILE): $(API_OBJ_REL) build/libfacemask.a src/lib/facemask.map
	$(CC) $(REL_FLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/lib/facemask.map \
	    -Wl,--no-undefined -Wl,--as-needed $(API_OBJ_REL) build/libfacemask.a -o $@ \
	    $(IMG_LIBS) -lm -pthread -ldl

build/$(SONAME): build/$(SOFILE)
	ln -sf $(SOFILE) $@

build/libfacemask.so: build/$(SONAME)
	ln -sf $(SONAME) $@

# The plugin: its own objects and the archive, exporting only fm_video_plugin_get.
PLUGIN_LINK = -shared -Wl,--version-script=src/app/video_plugin.map -Wl,--exclude-libs,ALL
PLUGIN_LIBS = $(VIDEO_LIBS) $(IMG_LIBS) -lm -pthread -ldl

# The test runner finds its suites by name: every `void suite_NAME(void)` in tests/.
build/gen/suites.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	grep -ho '^void suite_[a-z0-9_]*(void)' $(TEST_SRC) | sed 's/^void \(suite_[a-z0-9_]*\)(void)/FM_SUITE(\1)/' | sort -u > $@.tmp
	mv $@.tmp $@

build/obj/tests/main.o build-asan/obj/tests/main.o build-tsan/obj/tests/main.o: build/gen/suites.inc

# `facemask --version`: the version (VERSION, from include/facemask.h) and the git revision
# built from, in build/gen/version.h, rewritten only when they change (so main.o is rebuilt
# then, and only then).
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

build/facemask: $(APP_OBJ_REL) build/libfacemask.a
	$(CC) $(REL_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build/facemask-video.so: $(PLUGIN_OBJ_REL) build/libfacemask.a src/app/video_plugin.map
	$(CC) $(REL_FLAGS) $(PLUGIN_LINK) -Wl,--no-undefined $(PLUGIN_OBJ_REL) build/libfacemask.a \
	    -o $@ $(PLUGIN_LIBS)

build/tests: $(TEST_OBJ_REL) $(VIDEO_OBJ_REL) build/libfacemask.a | build/rtsp_server
	$(CC) $(REL_FLAGS) $^ -o $@ $(LDLIBS)

build-asan/facemask: $(APP_OBJ_ASAN) build-asan/libfacemask.a
	$(CC) $(ASAN_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build-asan/facemask-video.so: $(PLUGIN_OBJ_ASAN) build-asan/libfacemask.a src/app/video_plugin.map
	$(CC) $(ASAN_FLAGS) $(PLUGIN_LINK) $(PLUGIN_OBJ_ASAN) build-asan/libfacemask.a -o $@ \
	    $(PLUGIN_LIBS)

build-asan/tests: $(TEST_OBJ_ASAN) $(VIDEO_OBJ_ASAN) build-asan/libfacemask.a | build/rtsp_server
	$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build-tsan/facemask: $(APP_OBJ_TSAN) build-tsan/libfacemask.a
	$(CC) $(TSAN_FLAGS) $^ -o $@ $(EXE_LDLIBS)

build-tsan/facemask-video.so: $(PLUGIN_OBJ_TSAN) build-tsan/libfacemask.a src/app/video_plugin.map
	$(CC) $(TSAN_FLAGS) $(PLUGIN_LINK) $(PLUGIN_OBJ_TSAN) build-tsan/libfacemask.a -o $@ \
	    $(PLUGIN_LIBS)

build-tsan/tests: $(TEST_OBJ_TSAN) $(VIDEO_OBJ_TSAN) build-tsan/libfacemask.a | build/rtsp_server
	$(CC) $(TSAN_FLAGS) $^ -o $@ $(LDLIBS)

# The dashboard of `facemask serve` (src/serve/web/), embedded by tools/gen-web-assets.c.
# uPlot (the chart) comes from the npm registry, pinned by src/serve/web/package-lock.json;
# `npm ci` fetches it once into src/serve/web/node_modules (tools/install-deps.sh runs it too).
WEB_DIR := src/serve/web
UPLOT := $(WEB_DIR)/node_modules/uplot/dist
WEB_ASSETS := / "text/html; charset=utf-8" $(WEB_DIR)/index.html \
              /app.js "text/javascript; charset=utf-8" $(WEB_DIR)/app.js \
              /style.css "text/css; charset=utf-8" $(WEB_DIR)/style.css \
              /uPlot.min.js "text/javascript; charset=utf-8" $(UPLOT)/uPlot.iife.min.js \
              /uPlot.min.css "text/css; charset=utf-8" $(UPLOT)/uPlot.min.css
$(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css &: $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	touch $(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css
build/gen-web-assets: tools/gen-web-assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 $< -o $@
build/gen/web_assets.c: build/gen-web-assets $(filter $(WEB_DIR)/%,$(WEB_ASSETS)) \
                        $(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css
	@mkdir -p $(dir $@)
	build/gen-web-assets $@ $(WEB_ASSETS)

# Test helper for the video_rtsp suite: an RTSP server on 127.0.0.1 (GStreamer), not linked
# into facemask, so its packages stay out of PKGS; one flavour serves both test builds.
RTSP_PKGS := gstreamer-rtsp-server-1.0 gstreamer-1.0
build/rtsp_server: tests/helpers/rtsp_server.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(REL_FLAGS) $(shell pkg-config --cflags $(RTSP_PKGS)) $< -o $@ \
	    $(shell pkg-config --libs $(RTSP_PKGS))

# Micro-benchmark of the operator kernels on YuNet-n's layer shapes (not a test, not in `all`).
build/bench_yunet_layers: build/obj/tools/bench_yunet_layers.o build/libfacemask.a
	$(CC) $(REL_FLAGS) $^ -o $@ $(LDLIBS)

# --- tests -----------------------------------------------------------------
# FM_SHARED points at the shared models and data (default ../shared).
# Both builds are made (in parallel with -j), then the suites run one after the
# other; tools/run-tests.sh prints one combined closing line.
test: models build/tests build/facemask build/facemask-video.so lib build-asan/tests build-asan/facemask build-asan/facemask-video.so
	tools/run-tests.sh $(TESTS)

test-release: models build/tests build/facemask build/facemask-video.so lib
	FM_BIN=build/facemask ./build/tests

test-asan: models build-asan/tests build-asan/facemask build-asan/facemask-video.so lib
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	FM_BIN=build-asan/facemask FM_SANITIZED=1 ./build-asan/tests

# The threaded tests under ThreadSanitizer (CI runs this after `make test`): the thread pool,
# watch end to end (capture, inference and output threads) and the RTSP sources. A data race ends the process with status 66, which fails the test that ran it.
# FFmpeg's own threads are not instrumented: tools/tsan.supp says why they are suppressed.
# The threaded tests that stay quick under TSan (~5-15x slower): the pool, the RTSP sources,
# watch with --every 2 (the counters the capture and output threads share), watch through an
# RTSP server killed, restarted and stalled, and serve's MQTT thread (events written by another
# thread; two nodes read by the caller while their threads update them). The whole watch suite is too slow for CI here.
TSAN_SUITES ?= test_pool_runs test_pool_split video_rtsp test_faults_every test_lib_threads \
               test_faults_rtsp_killed test_faults_silent test_site_state_live_view \
               serve_http_live test_serve_threads_short test_mqtt_events_match test_mqtt_aggregate test_serve_aggregate_http
tsan-test: models build-tsan/tests build-tsan/facemask build-tsan/facemask-video.so
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$(CURDIR)/tools/tsan.supp \
	FM_BIN=build-tsan/facemask FM_SANITIZED=1 ./build-tsan/tests $(TSAN_SUITES)

# An hour of `watch` on the test RTSP server restarted every 5 minutes, events and recording
# on: RSS over time, reconnects, frames accounted for. SOAK_SECONDS shortens it.
soak: build/facemask build/facemask-video.so build/rtsp_server
	tools/soak.sh

# issue 9's long run: serve with 2 cameras, HTTP and MQTT for 30 minutes, the broker restarted
# twice: RSS growth and no lost event (tools/soak-serve.sh). SOAK_SECONDS shortens it.
soak-serve: build/facemask build/facemask-video.so build/rtsp_server
	tools/soak-serve.sh

# issue 9's target: 4 cameras from the test RTSP server, per-camera fps and latency
# (tools/bench-site.sh; run it on an idle machine).
bench-site: build/facemask build/facemask-video.so build/rtsp_server
	tools/bench-site.sh

# issue 9's live-view target: 2 cameras with 0, then 50 MJPEG clients (tools/bench-live.sh).
bench-live: build/facemask build/facemask-video.so build/rtsp_server
	tools/bench-live.sh

# --- install ---------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging]:
#   PREFIX/bin/facemask
#   PREFIX/lib/facemask/facemask-video.so       the video plugin
#   PREFIX/lib/libfacemask.{a,so,so.MAJOR,so.VERSION}, PREFIX/lib/pkgconfig/facemask.pc
#   PREFIX/include/facemask.h
#   PREFIX/share/facemask/models/{mask,detector}/ the committed classifier and default detector
#       (YuNet-n fine-tuned on masked faces)
#   PREFIX/share/facemask/models/{yunet,res10,mobilenet_v2}/   stock YuNet-n, res10 and
#       the base model of `train`, which are not committed: copied from models/ (`make models`
#       links them) or else from $(FM_SHARED)/models. Without them, the installed facemask
#       says where it looked.
#   PREFIX/share/man/man1/facemask.1, PREFIX/share/bash-completion/completions/facemask
#       when docs/facemask.1 and docs/facemask.bash-completion exist in this tree
# The installed binary finds the plugin and the models relative to itself (../lib/facemask,
# ../share/facemask/models), so the layout under PREFIX is fixed and an installed tree can
# be moved as a whole. Nothing is rebuilt for another PREFIX.
PREFIX  ?= /usr/local
DESTDIR ?=
FM_SHARED ?= ../shared
INSTALL ?= install
INST_BIN   = $(DESTDIR)$(PREFIX)/bin
INST_LIB   = $(DESTDIR)$(PREFIX)/lib
INST_INC   = $(DESTDIR)$(PREFIX)/include
INST_SHARE = $(DESTDIR)$(PREFIX)/share
INST_MODELS = $(INST_SHARE)/facemask/models
DETECTOR_MODELS := yunet res10 mobilenet_v2
MAN_PAGE   := docs/facemask.1
COMPLETION := docs/facemask.bash-completion

# The loader finds a new libfacemask.so.0 in a folder of its configuration (/usr/local/lib on
# Debian) only after ldconfig: run it when installing there as root, and never for a staged
# (DESTDIR) or private prefix.
LDCONFIG_IF_SYSTEM = if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
    cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep -qx '$(PREFIX)/lib'; then \
    echo ldconfig; ldconfig; fi

install: build/facemask build/facemask-video.so build/libfacemask.a build/$(SOFILE)
	$(INSTALL) -d $(INST_BIN) $(INST_LIB)/facemask $(INST_LIB)/pkgconfig $(INST_INC) \
	    $(INST_MODELS)/mask $(INST_MODELS)/detector
	$(INSTALL) -m 755 build/facemask $(INST_BIN)/facemask
	$(INSTALL) -m 644 build/facemask-video.so $(INST_LIB)/facemask/facemask-video.so
	$(INSTALL) -m 644 build/libfacemask.a $(INST_LIB)/libfacemask.a
	$(INSTALL) -m 755 build/$(SOFILE) $(INST_LIB)/$(SOFILE)
	ln -sf $(SOFILE) $(INST_LIB)/$(SONAME)
	ln -sf $(SONAME) $(INST_LIB)/libfacemask.so
	$(INSTALL) -m 644 include/facemask.h $(INST_INC)/facemask.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES@|$(IMG_PKGS)|' \
	    src/lib/facemask.pc.in > $(INST_LIB)/pkgconfig/facemask.pc
	$(INSTALL) -m 644 $(wildcard models/mask/*) $(INST_MODELS)/mask/
	$(INSTALL) -m 644 $(wildcard models/detector/*) $(INST_MODELS)/detector/
	@for m in $(DETECTOR_MODELS); do \
	    src=models/$$m; [ -d $$src ] || src=$(FM_SHARED)/models/$$m; \
	    if [ -d $$src ] && [ -n "$$(ls $$src/)" ]; then \
	        echo "$(INSTALL) -m 644 $$src/* $(INST_MODELS)/$$m/"; \
	        $(INSTALL) -d $(INST_MODELS)/$$m && $(INSTALL) -m 644 $$src/* $(INST_MODELS)/$$m/ \
	            || exit 1; \
	    else \
	        echo "make install: no models/$$m or $(FM_SHARED)/models/$$m; copy that model" \
	             "folder to $(PREFIX)/share/facemask/models/$$m" >&2; \
	    fi; \
	done
	@if [ -f $(MAN_PAGE) ]; then \
	    echo "$(INSTALL) -m 644 $(MAN_PAGE) $(INST_SHARE)/man/man1/facemask.1"; \
	    $(INSTALL) -d $(INST_SHARE)/man/man1 && \
	    $(INSTALL) -m 644 $(MAN_PAGE) $(INST_SHARE)/man/man1/facemask.1; \
	else echo "make install: no $(MAN_PAGE) in this tree, no man page installed" >&2; fi
	@if [ -f $(COMPLETION) ]; then \
	    echo "$(INSTALL) -m 644 $(COMPLETION) $(INST_SHARE)/bash-completion/completions/facemask"; \
	    $(INSTALL) -d $(INST_SHARE)/bash-completion/completions && \
	    $(INSTALL) -m 644 $(COMPLETION) $(INST_SHARE)/bash-completion/completions/facemask; \
	else echo "make install: no $(COMPLETION) in this tree, no bash completion installed" >&2; fi
	@$(LDCONFIG_IF_SYSTEM)

# Removes what install wrote (the model folders whole), then facemask's own folders if empty.
uninstall:
	rm -f $(INST_BIN)/facemask $(INST_LIB)/facemask/facemask-video.so \
	    $(INST_LIB)/libfacemask.a $(INST_LIB)/$(SOFILE) $(INST_LIB)/$(SONAME) \
	    $(INST_LIB)/libfacemask.so $(INST_LIB)/pkgconfig/facemask.pc $(INST_INC)/facemask.h \
	    $(INST_SHARE)/man/man1/facemask.1 $(INST_SHARE)/bash-completion/completions/facemask
	rm -rf $(addprefix $(INST_MODELS)/,mask detector $(DETECTOR_MODELS))
	-rmdir $(INST_MODELS) $(INST_SHARE)/facemask $(INST_LIB)/facemask 2>/dev/null
	@$(LDCONFIG_IF_SYSTEM)

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
FUZZ_LIB := build-fuzz/libfacemask.a
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_LONG_SECONDS ?= 3600

.PHONY: fuzz-smoke fuzz-long
.SECONDARY: $(FUZZ_LIB_OBJ)

fuzz: $(FUZZ_BIN)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CSTD) -Isrc -Iinclude $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -pthread \
	    -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# a target may link objects from outside the library (FUZZ_EXTRA: serve's MQTT payloads)
build-fuzz/fuzz_mqtt_msg: FUZZ_EXTRA := build-fuzz/obj/src/serve/mqtt_msg.o
build-fuzz/fuzz_mqtt_msg: build-fuzz/obj/src/serve/mqtt_msg.o

build-fuzz/%: fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(CSTD) -Isrc -Iinclude $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -pthread $< \
	    $(FUZZ_EXTRA) $(FUZZ_LIB) -o $@ $(LDLIBS)

fuzz-smoke: $(FUZZ_BIN)
	tools/fuzz-run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

fuzz-long: $(FUZZ_BIN)
	tools/fuzz-run.sh $(FUZZ_LONG_SECONDS) $(FUZZ_BIN)

# --- models: links to ../shared, never copies ----------------------------------
# The tests and the build-tree binary find the default detector as models/yunet, so every
# test target depends on these links (a fresh clone has only models/mask, the trained one).
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
-include $(APP_OBJ_TSAN:.o=.d) $(PLUGIN_OBJ_TSAN:.o=.d) $(LIB_OBJ_TSAN:.o=.d) $(TEST_OBJ_TSAN:.o=.d)
