/* `make install` into a temporary prefix and `make uninstall`: the installed facemask runs
 * `detect` and `watch` from there (its models and plugin found relative to itself, the build
 * tree not on its path), says where it looked when they are missing, the examples build against
 * the installed library with pkg-config and give the command line's faces, and uninstall
 * leaves no file behind. Also a staged install (DESTDIR). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "facemask.h"
#include "test.h"
#include "test_det_util.h"

#define DEMO "uengmim_test_image.png" /* a no_mask and a mask face */

/* make without the settings of a make that may be running the tests */
#define MAKE "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s"

/* Runs a formatted shell command with stderr joined to stdout; returns its exit status. */
static int sh(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd - 8) {
        FM_CHECK_MSG(0, "command too long");
        if (out)
            *out = NULL;
        return -1;
    }
    strcat(cmd, " 2>&1");
    return fm_test_cmd(cmd, out);
}

/* The shared folder as an absolute path: the commands here run from other folders. */
static const char *shared_abs(void)
{
    static char buf[4096];
    if (!realpath(fm_test_shared(), buf))
        snprintf(buf, sizeof buf, "%s", fm_test_shared());
    return buf;
}

static int exists(const char *dir, const char *rel)
{
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return lstat(p, &st) == 0;
}

/* Checks that a JSON line from an example has the faces of the command line's line. */
static void same_faces(const char *what, const char *got, const char *want)
{
    fm_det_line g, w;
    FM_CHECK_MSG(got && fm_det_parse_line(got, &g), "%s printed: %s", what, got ? got : "");
    FM_CHECK_MSG(want && fm_det_parse_line(want, &w), "the command line printed: %s",
                 want ? want : "");
    if (fm_test_failed_now())
        return;
    FM_CHECK_MSG(g.nfaces == w.nfaces && g.nfaces >= 2, "%s: %d faces, the command line %d",
                 what, g.nfaces, w.nfaces);
    FM_CHECK_INT(g.w, w.w);
    FM_CHECK_INT(g.h, w.h);
    for (int i = 0; i < g.nfaces && i < w.nfaces; i++) {
        for (int c = 0; c < 4; c++)
            FM_CHECK_NEAR(g.box[i][c], w.box[i][c], 0.0051);
        FM_CHECK_NEAR(g.score[i], w.score[i], 0.00006);
    }
    /* labels and P(mask), in order */
    const char *pg = got, *pw = want;
    int n = 0;
    while ((pg = strstr(pg, "\"mask_prob\":")) && (pw = strstr(pw, "\"mask_prob\":"))) {
        pg += 12;
        pw += 12;
        FM_CHECK_NEAR(strtod(pg, NULL), strtod(pw, NULL), 0.00006);
        n++;
    }
    FM_CHECK_INT(n, w.nfaces);
    FM_CHECK_INT(strstr(got, "\"label\":\"mask\"") != NULL, strstr(want, "\"label\":\"mask\"") != NULL);
    FM_CHECK_INT(strstr(got, "\"label\":\"no_mask\"") != NULL,
                 strstr(want, "\"label\":\"no_mask\"") != NULL);
}

/* The examples, built against the installed library: dynamically with
 * `pkg-config --cflags --libs facemask`, statically from libfacemask.a with
 * `pkg-config --static --libs`, and the Python ctypes one. */
static void check_examples(const char *prefix, const char *tmp, const char *img, const char *cli)
{
    char *out = NULL;
    char pc[1100];
    snprintf(pc, sizeof pc, "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config", prefix);
    int rc = sh(&out, "%s --modversion facemask", pc);
    FM_CHECK_MSG(rc == 0 && out && strncmp(out, FM_VERSION_STRING "\n", 6) == 0,
                 "pkg-config --modversion: %s", out ? out : "");
    free(out);
    rc = sh(&out, "cc -std=c11 -Wall -Wextra -Werror examples/detect_json.c $(%s --cflags --libs "
                  "facemask) -o %s/detect_json",
            pc, tmp);
    FM_CHECK_MSG(rc == 0, "building examples/detect_json.c: %s", out ? out : "");
    free(out);
    rc = sh(&out, "readelf -d %s/detect_json | grep NEEDED", tmp);
    FM_CHECK_STR_CONTAINS(out, "[libfacemask.so.0]");
    free(out);
    /* models: those installed beside the library (no FACEMASK_MODELS); run from elsewhere */
    rc = sh(&out, "cd %s && env -u FACEMASK_MODELS LD_LIBRARY_PATH=%s/lib ./detect_json %s", tmp,
            prefix, img);
    FM_CHECK_MSG(rc == 0, "detect_json exited %d: %s", rc, out ? out : "");
    same_faces("examples/detect_json.c", out, cli);
    free(out);

    rc = sh(&out,
            "cc -std=c11 -Wall -Wextra -Werror examples/detect_json.c $(%s --cflags facemask) "
            "%s/lib/libfacemask.a $(%s --static --libs facemask | sed 's/-lfacemask//') "
            "-o %s/detect_json_static",
            pc, prefix, pc, tmp);
    FM_CHECK_MSG(rc == 0, "building it statically: %s", out ? out : "");
    free(out);
    rc = sh(&out, "readelf -d %s/detect_json_static | grep -c libfacemask", tmp);
    FM_CHECK_MSG(out && atoi(out) == 0, "the static build needs libfacemask.so: %s",
                 out ? out : "");
    free(out);
    /* a program elsewhere, statically linked, is told where the models are */
    rc = sh(&out, "cd %s && FACEMASK_MODELS=%s/share/facemask/models ./detect_json_static %s",
            tmp, prefix, img);
    FM_CHECK_MSG(rc == 0, "detect_json_static exited %d: %s", rc, out ? out : "");
    same_faces("the static examples/detect_json.c", out, cli);
    free(out);

    char cwd[1024];
    FM_CHECK(getcwd(cwd, sizeof cwd) != NULL);
    rc = sh(&out, "cd %s && env -u FACEMASK_MODELS LD_LIBRARY_PATH=%s/lib python3 %s/examples/"
                  "detect.py %s",
            tmp, prefix, cwd, img);
    FM_CHECK_MSG(rc == 0, "examples/detect.py exited %d: %s", rc, out ? out : "");
    same_faces("examples/detect.py", out, cli);
    free(out);
}

/* The installed binary without its models or its plugin names where it looked. */
static void check_missing(const char *prefix, const char *tmp, const char *img)
{
    char *out = NULL;
    int rc = sh(&out, "mv %s/share/facemask/models %s/share/facemask/models.off", prefix, prefix);
    FM_CHECK_INT(rc, 0);
    free(out);
    rc = sh(&out, "cd %s && env -u FACEMASK_MODELS %s/bin/facemask detect %s", tmp, prefix, img);
    FM_CHECK_MSG(rc == 1, "detect without models exited %d: %s", rc, out ? out : "");
    char want[1200];
    snprintf(want, sizeof want, "%s/share/facemask/models/detector/detector.onnx", prefix);
    FM_CHECK_STR_CONTAINS(out, want);
    FM_CHECK_STR_CONTAINS(out, "--model-dir");
    FM_CHECK_STR_CONTAINS(out, "FACEMASK_MODELS");
    /* only places relative to the installed binary: the build tree is not among them */
    char cwd[1024];
    FM_CHECK(getcwd(cwd, sizeof cwd) != NULL);
    FM_CHECK_MSG(out && !strstr(out, cwd), "the installed binary looked in the build tree: %s",
                 out ? out : "");
    free(out);
    rc = sh(&out, "cd %s && FACEMASK_MODELS=%s/share/facemask/models.off %s/bin/facemask detect %s",
            tmp, prefix, prefix, img);
    FM_CHECK_MSG(rc == 0, "detect with FACEMASK_MODELS exited %d: %s", rc, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "2 faces");
    free(out);
    rc = sh(&out, "mv %s/share/facemask/models.off %s/share/facemask/models", prefix, prefix);
    FM_CHECK_INT(rc, 0);
    free(out);

    rc = sh(&out, "mv %s/lib/facemask %s/lib/facemask.off", prefix, prefix);
    FM_CHECK_INT(rc, 0);
    free(out);
    rc = sh(&out, "cd %s && %s/bin/facemask watch --source %s/demo/uengmim_test_video.avi "
                  "--max-frames 2",
            tmp, prefix, shared_abs());
    FM_CHECK_MSG(rc == 1, "watch without its plugin exited %d: %s", rc, out ? out : "");
    snprintf(want, sizeof want, "%s/lib/facemask/facemask-video.so", prefix);
    FM_CHECK_STR_CONTAINS(out, want);
    snprintf(want, sizeof want, "%s/bin/facemask-video.so", prefix);
    FM_CHECK_STR_CONTAINS(out, want);
    free(out);
    rc = sh(&out, "mv %s/lib/facemask.off %s/lib/facemask", prefix, prefix);
    FM_CHECK_INT(rc, 0);
    free(out);
}

/* The files that stay after an uninstall (none expected): files and links under dir. */
static void check_empty(const char *what, const char *dir)
{
    char *out = NULL;
    sh(&out, "find %s -type f -o -type l", dir);
    FM_CHECK_MSG(out && out[0] == '\0', "%s left files behind:\n%s", what, out ? out : "");
    free(out);
}

static void test_install_prefix(void)
{
    const char *tmp = fm_test_tmpdir();
    char prefix[700], img[4200], *out = NULL;
    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
    snprintf(img, sizeof img, "%s/demo/%s", shared_abs(), DEMO);
    int rc = sh(&out, MAKE " install PREFIX=%s FM_SHARED=%s", prefix, shared_abs());
    FM_CHECK_MSG(rc == 0, "make install exited %d: %s", rc, out ? out : "");
    int man = access("docs/facemask.1", F_OK) == 0;
    int completion = access("docs/facemask.bash-completion", F_OK) == 0;
    if (!man)
        FM_CHECK_STR_CONTAINS(out, "no docs/facemask.1 in this tree");
    free(out);
    if (fm_test_failed_now())
        return;
    const char *files[] = {"bin/facemask", "lib/facemask/facemask-video.so",
                           "lib/libfacemask.a", "lib/libfacemask.so", "lib/libfacemask.so.0",
                           "lib/libfacemask.so." FM_VERSION_STRING, "lib/pkgconfig/facemask.pc",
                           "include/facemask.h", "share/facemask/models/mask/classifier.cfg",
                           "share/facemask/models/mask/classifier.caffemodel",
                           "share/facemask/models/detector/detector.onnx",
                           "share/facemask/models/detector/README.md",
                           "share/facemask/models/yunet/yunet_n_640_640.onnx",
                           "share/facemask/models/yunet/LICENSE",
                           "share/facemask/models/res10/deploy.prototxt",
                           "share/facemask/models/mobilenet_v2/mobilenet_v2.caffemodel"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        FM_CHECK_MSG(exists(prefix, files[i]), "not installed: %s", files[i]);
    FM_CHECK_INT(exists(prefix, "share/man/man1/facemask.1"), man);
    FM_CHECK_INT(exists(prefix, "share/bash-completion/completions/facemask"), completion);
    rc = sh(&out, "cmp include/facemask.h %s/include/facemask.h && readlink %s/lib/libfacemask.so.0",
            prefix, prefix);
    FM_CHECK_MSG(rc == 0 && out && strcmp(out, "libfacemask.so." FM_VERSION_STRING "\n") == 0,
                 "%s", out ? out : "");
    free(out);
    char want_prefix[800];
    snprintf(want_prefix, sizeof want_prefix, "prefix=%s\n", prefix);
    char pcpath[800];
    snprintf(pcpath, sizeof pcpath, "%s/lib/pkgconfig/facemask.pc", prefix);
    char *pc = fm_test_read_file(pcpath, NULL);
    FM_CHECK_STR_CONTAINS(pc, want_prefix);
    FM_CHECK_STR_CONTAINS(pc, "Version: " FM_VERSION_STRING "\n");
    free(pc);

    /* the build tree's answer, to compare with */
    char *cli = NULL;
    rc = sh(&cli, "%s detect --json %s", fm_test_bin(), img);
    FM_CHECK_MSG(rc == 0, "%s", cli ? cli : "");

    /* detect from the prefix, run from elsewhere, nothing pointing at the build tree */
    rc = sh(&out, "cd %s && env -u FACEMASK_MODELS %s/bin/facemask detect --json %s", tmp,
            prefix, img);
    FM_CHECK_MSG(rc == 0, "installed detect exited %d: %s", rc, out ? out : "");
    FM_CHECK_MSG(out && cli && strcmp(out, cli) == 0, "installed: %s\nbuild tree: %s",
                 out ? out : "", cli ? cli : "");
    free(out);
    /* watch through the installed plugin */
    rc = sh(&out, "cd %s && %s/bin/facemask watch --source %s/demo/uengmim_test_video.avi "
                  "--max-frames 3 --events - --quiet",
            tmp, prefix, shared_abs());
    FM_CHECK_MSG(rc == 0, "installed watch exited %d: %s", rc, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "{\"event\":\"end\"");
    free(out);

    check_missing(prefix, tmp, img);
    check_examples(prefix, tmp, img, cli);
    free(cli);

    rc = sh(&out, MAKE " uninstall PREFIX=%s", prefix);
    FM_CHECK_MSG(rc == 0, "make uninstall exited %d: %s", rc, out ? out : "");
    free(out);
    check_empty("make uninstall", prefix);
    FM_CHECK(!exists(prefix, "share/facemask"));
    FM_CHECK(!exists(prefix, "lib/facemask"));
}

/* DESTDIR stages an install for PREFIX: the files land under DESTDIR, facemask.pc names PREFIX,
 * and the staged copy runs (it finds its files relative to itself). */
static void test_install_destdir(void)
{
    const char *tmp = fm_test_tmpdir();
    char stage[700], root[800], *out = NULL;
    snprintf(stage, sizeof stage, "%s/stage", tmp);
    snprintf(root, sizeof root, "%s/opt/fm", stage);
    int rc = sh(&out, MAKE " install DESTDIR=%s PREFIX=/opt/fm FM_SHARED=%s", stage,
                shared_abs());
    FM_CHECK_MSG(rc == 0, "make install exited %d: %s", rc, out ? out : "");
    free(out);
    FM_CHECK(exists(root, "bin/facemask"));
    char pcpath[900];
    snprintf(pcpath, sizeof pcpath, "%s/lib/pkgconfig/facemask.pc", root);
    char *pc = fm_test_read_file(pcpath, NULL);
    FM_CHECK_STR_CONTAINS(pc, "prefix=/opt/fm\n");
    free(pc);
    rc = sh(&out, "cd %s && env -u FACEMASK_MODELS %s/bin/facemask detect %s/demo/%s", tmp, root,
            shared_abs(), DEMO);
    FM_CHECK_MSG(rc == 0 && out && strstr(out, "2 faces"), "staged detect exited %d: %s", rc,
                 out ? out : "");
    free(out);
    rc = sh(&out, MAKE " uninstall DESTDIR=%s PREFIX=/opt/fm", stage);
    FM_CHECK_MSG(rc == 0, "make uninstall exited %d: %s", rc, out ? out : "");
    free(out);
    check_empty("make uninstall with DESTDIR", stage);
}

void suite_install(void);
void suite_install(void)
{
    FM_RUN(test_install_prefix);
    FM_RUN(test_install_destdir);
}
