/* paths.h - where facemask's own files are: found from the binaries it runs in, so that a
 * build tree, an installed copy (`make install PREFIX=...`) and a program linking libfacemask
 * each find their models and plugin without a path compiled in.
 *
 * The binaries are the shared object holding this code (libfacemask.so, the video plugin
 * facemask-video.so), then the executable. An installed layout is
 *     PREFIX/bin/facemask   PREFIX/lib/libfacemask.so.*   PREFIX/lib/facemask/facemask-video.so
 *     PREFIX/share/facemask/models/{yunet,res10,mobilenet_v2,mask}/
 * and a build tree is build/facemask, build/libfacemask.so.*, build/facemask-video.so beside the
 * project's models/ folder.
 */
#ifndef FM_PATHS_H
#define FM_PATHS_H

#include <limits.h>
#include <stddef.h>

#define FM_SELF_MAX 2

/* The folders of the binaries this code runs in, most specific first: the shared object that
 * holds this code when it is not the executable, then the executable (from /proc/self/exe).
 * Absolute, without symbolic links. Returns how many were written (0 when neither is known). */
int fm_self_dirs(char dirs[FM_SELF_MAX][PATH_MAX]);

/* The parent folder of dir ("/a/b/bin" -> "/a/b", "/bin" -> "/"), written into out. */
void fm_parent_dir(const char *dir, char *out, size_t size);

#endif
