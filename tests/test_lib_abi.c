/* libfacemask's interface as others see it: the header on its own in C and C++, the shared
 * library's exports against the header (nm -D), its soname and links, and the video plugin,
 * which exports only its entry and needs nothing from the executable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facemask.h"
#include "test.h"

/* facemask.h compiles on its own as C99, C11 and C++11 with every warning an error, and its
 * functions have C linkage in C++. */
static void test_lib_header_standalone(void)
{
    const char *dir = fm_test_tmpdir();
    char cmd[4096], *out = NULL;
    const char *stds[] = {"-x c -std=c99", "-x c -std=c11"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "cc %s -Wall -Wextra -Wpedantic -Werror -fsyntax-only include/facemask.h 2>&1",
                 stds[i]);
        int rc = fm_test_cmd(cmd, &out);
        FM_CHECK_MSG(rc == 0, "%s: %s", cmd, out ? out : "");
        free(out);
    }
    char src[700], obj[700];
    snprintf(src, sizeof src, "%s/use.cc", dir);
    snprintf(obj, sizeof obj, "%s/use.o", dir);
    fm_test_write_text(src, "#include \"facemask.h\"\n"
                            "int use() { return fm_version(0, 0, 0) != 0; }\n");
    snprintf(cmd, sizeof cmd,
             "c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c %s -o %s 2>&1 && "
             "nm --undefined-only %s",
             src, obj, obj);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0, "%s: %s", cmd, out ? out : "");
    /* C linkage: the plain name, not a mangled _Z... one */
    FM_CHECK_MSG(out && strstr(out, " fm_version\n") && !strstr(out, "_Z"), "nm: %s",
                 out ? out : "");
    free(out);
}

#define MAX_NAMES 64

/* The names of the FM_API functions declared in include/facemask.h. */
static int header_functions(char names[][64], int max)
{
    char *text = fm_test_read_file("include/facemask.h", NULL);
    FM_CHECK(text != NULL);
    int n = 0;
    for (char *p = text ? strstr(text, "\nFM_API ") : NULL; p && n < max;
         p = strstr(p + 1, "\nFM_API ")) {
        char *paren = strchr(p, '(');
        char *q = paren;
        while (q > p && (q[-1] == ' '))
            q--;
        char *e = q;
        while (q > p && (q[-1] == '_' || (q[-1] >= 'a' && q[-1] <= 'z') ||
                         (q[-1] >= '0' && q[-1] <= '9')))
            q--;
        if (paren && e > q && (size_t)(e - q) < 64) {
            memcpy(names[n], q, (size_t)(e - q));
            names[n++][e - q] = '\0';
        }
    }
    free(text);
    return n;
}

static int in_list(char names[][64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* libfacemask.so exports exactly the functions facemask.h declares, all fm_* (nm -D), under the
 * soname libfacemask.so.MAJOR; the version script lists the same. */
static void test_lib_so_exports(void)
{
    char decl[MAX_NAMES][64], exported[MAX_NAMES][64];
    int ndecl = header_functions(decl, MAX_NAMES);
    FM_CHECK_MSG(ndecl >= 14, "only %d FM_API functions found in the header", ndecl);
    char so[128], cmd[512], *out = NULL;
    snprintf(so, sizeof so, "build/libfacemask.so.%s", FM_VERSION_STRING);
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s", so);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0 && out, "%s failed (%d)", cmd, rc);
    int nexp = 0;
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char addr[32], type[4], name[64];
        if (sscanf(line, "%31s %3s %63s", addr, type, name) == 3 && strcmp(type, "A") != 0) {
            char *at = strchr(name, '@');
            if (at)
                *at = '\0';
            FM_CHECK_MSG(strcmp(type, "T") == 0 && strncmp(name, "fm_", 3) == 0,
                         "%s exports %s (%s), not an fm_* function", so, name, type);
            FM_CHECK_MSG(in_list(decl, ndecl, name), "%s exports %s, not in facemask.h", so,
                         name);
            if (nexp < MAX_NAMES)
                memcpy(exported[nexp++], name, sizeof name);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(out);
    for (int i = 0; i < ndecl; i++)
        FM_CHECK_MSG(in_list(exported, nexp, decl[i]), "%s does not export %s", so, decl[i]);
    FM_CHECK_INT(nexp, ndecl);
    /* the version script names the same functions */
    char *map = fm_test_read_file("src/lib/facemask.map", NULL);
    for (int i = 0; map && i < ndecl; i++) {
        char want[sizeof decl + 4];
        snprintf(want, sizeof want, " %s;", decl[i]);
        FM_CHECK_MSG(strstr(map, want) != NULL, "facemask.map lacks %s", decl[i]);
    }
    free(map);
    /* soname, and the links a build tree and an install make */
    snprintf(cmd, sizeof cmd, "objdump -p %s | grep SONAME", so);
    rc = fm_test_cmd(cmd, &out);
    char soname[64];
    snprintf(soname, sizeof soname, "libfacemask.so.%d\n", FM_VERSION_MAJOR);
    FM_CHECK_MSG(rc == 0 && out && strstr(out, soname), "SONAME: %s", out ? out : "");
    free(out);
    rc = fm_test_cmd("readlink build/libfacemask.so build/libfacemask.so.0", &out);
    char links[128];
    snprintf(links, sizeof links, "libfacemask.so.%d\nlibfacemask.so.%s\n", FM_VERSION_MAJOR,
             FM_VERSION_STRING);
    FM_CHECK_MSG(rc == 0 && out && strcmp(out, links) == 0, "links: %s", out ? out : "");
    free(out);
}

/* The executable exports no facemask symbol (no -rdynamic); the plugin exports only its entry
 * and needs no fm_* symbol from outside (it carries its own copy of the library). */
static void test_lib_plugin_self_contained(void)
{
    char bin[512], dir[512], cmd[1200], *out = NULL;
    snprintf(bin, sizeof bin, "%s", fm_test_bin());
    snprintf(dir, sizeof dir, "%s", bin);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s | grep -c ' fm_'", bin);
    fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(out && atoi(out) == 0, "%s exports %s fm_* symbols", bin, out ? out : "?");
    free(out);
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/facemask-video.so | grep -v ' A '", dir);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0 && out && strstr(out, " T fm_video_plugin_get\n"), "plugin: %s",
                 out ? out : "");
    int lines = 0;
    for (const char *p = out; p && *p; p++)
        lines += *p == '\n';
    FM_CHECK_MSG(lines == 1, "the plugin exports more than its entry:\n%s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "nm -D --undefined-only %s/facemask-video.so | grep -c ' fm_'",
             dir);
    fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(out && atoi(out) == 0, "the plugin needs %s fm_* symbols from outside",
                 out ? out : "?");
    free(out);
}

void suite_lib_abi(void);
void suite_lib_abi(void)
{
    FM_RUN(test_lib_header_standalone);
    FM_RUN(test_lib_so_exports);
    FM_RUN(test_lib_plugin_self_contained);
}
