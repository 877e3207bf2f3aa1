/* _GNU_SOURCE for dladdr and Dl_info, glibc's names for the shared object that holds code. */
#define _GNU_SOURCE
#include "core/paths.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An address inside the binary that holds this code, for dladdr. */
static const char k_anchor = 0;

static void dir_of(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash == path)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
}

int fm_self_dirs(char dirs[FM_SELF_MAX][PATH_MAX])
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    else
        exe[0] = '\0';
    int count = 0;
    Dl_info info;
    char obj[PATH_MAX];
    /* The object that holds this code: for the executable itself dli_fname can be a relative
     * name or empty, so only a resolved path other than the executable's counts. */
    if (dladdr(&k_anchor, &info) && info.dli_fname && info.dli_fname[0] &&
        realpath(info.dli_fname, obj) && strcmp(obj, exe) != 0) {
        dir_of(obj);
        snprintf(dirs[count++], PATH_MAX, "%s", obj);
    }
    if (exe[0]) {
        dir_of(exe);
        if (count == 0 || strcmp(dirs[0], exe) != 0)
            snprintf(dirs[count++], PATH_MAX, "%s", exe);
    }
    return count;
}

void fm_parent_dir(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "%s", dir);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    dir_of(out);
}
