/* sink.c - fm_events lines into history rows (site/sink.h). */
#include "site/sink.h"

fm_status fm_site_sink_line(void *ctx, const fm_events_line *line, fm_err *err)
{
    fm_site_sink *s = ctx;
    if (!s || !s->history || !s->camera || !line)
        return fm_err_set(err, FM_ERR_ARG, "site sink: NULL %s",
                          !s || !s->history ? "history" : !s->camera ? "camera" : "line");
    fm_history_event e = {s->camera, s->start + line->t, line->type, line->track, line->label,
                          line->json};
    long long id = 0;
    fm_status st = fm_history_add_event(s->history, &e, &id, err);
    if (st == FM_OK) {
        s->stored++;
        s->last_id = id;
    }
    return st;
}
