/* watch over a folder of images of different sizes: every image is processed in name order,
 * and the recording keeps the first image's size (later ones are letterboxed into it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

static void test_folder_of_mixed_sizes_records(void)
{
    const char *dir = fm_test_tmpdir();
    char src[600], rec[600], cmd[3000];
    snprintf(src, sizeof src, "%s/frames", dir);
    mkdir(src, 0700);
    /* 464x330, 840x549, 400x400: copied under names that sort in this order */
    const char *names[3] = {"aizoo_demo2.jpg", "chandrikadeb7_pic1.jpeg",
                            "pyimagesearch_example_02.png"};
    const char *as[3] = {"a.jpg", "b.jpg", "c.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "cp %s/demo/%s %s/%s", fm_test_shared(), names[i], src, as[i]);
        FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
    }
    snprintf(rec, sizeof rec, "%s/out.mp4", dir);
    snprintf(cmd, sizeof cmd,
             "%s watch --detector res10 "
             "--source %s --model-dir %s/models --classifier models/mask --record %s "
             "--events - --quiet 2>&1",
             fm_test_bin(), src, fm_test_shared(), rec);
    char *out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK_STR_CONTAINS(out, "\"final\":true,\"fps\"");
    FM_CHECK_STR_CONTAINS(out, "{\"event\":\"end\",\"t\":0.200,\"frame\":3,\"reason\":\"eof\"}");
    FM_CHECK_MSG(out && !strstr(out, "facemask:"), "watch complained: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
             "stream=width,height,nb_read_frames -of csv=p=0 %s",
             rec);
    out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK_STR_CONTAINS(out, "464,330,3");
    free(out);
}

void suite_watch_folder(void);
void suite_watch_folder(void)
{
    FM_RUN(test_folder_of_mixed_sizes_records);
}
