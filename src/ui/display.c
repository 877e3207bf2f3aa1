/* display.c - SDL2 window, renderer and one streaming BGR24 texture. */
#include "ui/display.h"

#define SDL_MAIN_HANDLED
#include <SDL.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MAX_SIDE 16384

struct fm_display {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    SDL_Rect dst;
    int quit;
};

/* SDL's messages go through facemask's log (core/log.h): "facemask: sdl: MSG". */
static void sdl_log_route(void *user, int category, SDL_LogPriority prio, const char *msg)
{
    (void)user;
    (void)category;
    fm_log_level l = prio >= SDL_LOG_PRIORITY_ERROR  ? FM_LOG_ERROR
                     : prio >= SDL_LOG_PRIORITY_WARN ? FM_LOG_WARN
                     : prio >= SDL_LOG_PRIORITY_INFO ? FM_LOG_INFO
                                                     : FM_LOG_DEBUG;
    fm_log_foreign(l, "sdl", msg);
}

void fm_display_route_log(void)
{
    SDL_LogSetOutputFunction(sdl_log_route, NULL);
}

fm_display *fm_display_open(const char *title, int w, int h, fm_err *err)
{
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) {
        fm_err_set(err, FM_ERR_ARG, "display: window size %dx%d, expected 1..%d per side", w, h,
                   MAX_SIDE);
        return NULL;
    }
    fm_display *d = calloc(1, sizeof *d);
    if (!d) {
        fm_err_set(err, FM_ERR_NOMEM, "display: out of memory");
        return NULL;
    }
    fm_display_route_log();
    /* the caller owns SIGINT/SIGTERM; SDL must not turn them into SDL_QUIT */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        fm_err_set(err, FM_ERR_IO, "display: cannot start SDL video: %s", SDL_GetError());
        free(d);
        return NULL;
    }
    /* With no X11 or Wayland session SDL falls back to an invisible "offscreen" window; a
     * user who asked for a window should hear that there is no screen instead. */
    const char *driver = SDL_GetCurrentVideoDriver();
    const char *asked = getenv("SDL_VIDEODRIVER");
    if (driver && (!asked || !*asked) &&
        (strcmp(driver, "offscreen") == 0 || strcmp(driver, "dummy") == 0)) {
        fm_err_set(err, FM_ERR_IO,
                   "display: no graphical session (DISPLAY and WAYLAND_DISPLAY are not set); "
                   "run without --display, or with SDL_VIDEODRIVER=%s to draw off screen",
                   driver);
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        free(d);
        return NULL;
    }
    d->win = SDL_CreateWindow(title ? title : "facemask", SDL_WINDOWPOS_UNDEFINED,
                              SDL_WINDOWPOS_UNDEFINED, w, h, SDL_WINDOW_RESIZABLE | SDL_WINDOW_SHOWN);
    if (!d->win) {
        fm_err_set(err, FM_ERR_IO, "display: cannot create a %dx%d window: %s", w, h,
                   SDL_GetError());
        fm_display_close(d);
        return NULL;
    }
    d->ren = SDL_CreateRenderer(d->win, -1, 0); /* best available, software as the last resort */
    if (!d->ren) {
        fm_err_set(err, FM_ERR_IO, "display: cannot create a renderer: %s", SDL_GetError());
        fm_display_close(d);
        return NULL;
    }
    SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
    SDL_RenderClear(d->ren);
    SDL_RenderPresent(d->ren);
    return d;
}

fm_status fm_display_show(fm_display *d, const fm_image *bgr, fm_err *err)
{
    if (!d || !bgr || !bgr->data || bgr->w < 1 || bgr->h < 1 || bgr->w > MAX_SIDE ||
        bgr->h > MAX_SIDE || bgr->stride < 3 * bgr->w)
        return fm_err_set(err, FM_ERR_ARG, "display: no window or a bad image (%dx%d, stride %d)",
                          bgr ? bgr->w : 0, bgr ? bgr->h : 0, bgr ? bgr->stride : 0);
    if (!d->tex || d->tex_w != bgr->w || d->tex_h != bgr->h) {
        if (d->tex)
            SDL_DestroyTexture(d->tex);
        d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_BGR24, SDL_TEXTUREACCESS_STREAMING,
                                   bgr->w, bgr->h);
        if (!d->tex) {
            d->tex_w = d->tex_h = 0;
            return fm_err_set(err, FM_ERR_IO, "display: cannot create a %dx%d texture: %s",
                              bgr->w, bgr->h, SDL_GetError());
        }
        d->tex_w = bgr->w;
        d->tex_h = bgr->h;
    }
    if (SDL_UpdateTexture(d->tex, NULL, bgr->data, bgr->stride) != 0)
        return fm_err_set(err, FM_ERR_IO, "display: cannot upload the frame: %s", SDL_GetError());
    int ow = 0, oh = 0;
    if (SDL_GetRendererOutputSize(d->ren, &ow, &oh) != 0 || ow < 1 || oh < 1)
        SDL_GetWindowSize(d->win, &ow, &oh);
    /* largest rectangle of the frame's aspect that fits, centred */
    long long sw = (long long)ow * bgr->h, sh = (long long)oh * bgr->w;
    SDL_Rect r;
    if (sw <= sh) { /* window relatively narrower: full width */
        r.w = ow;
        r.h = (int)(((long long)ow * bgr->h + bgr->w / 2) / bgr->w);
    } else {
        r.h = oh;
        r.w = (int)(((long long)oh * bgr->w + bgr->h / 2) / bgr->h);
    }
    r.x = (ow - r.w) / 2;
    r.y = (oh - r.h) / 2;
    d->dst = r;
    SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
    SDL_RenderClear(d->ren);
    if (SDL_RenderCopy(d->ren, d->tex, NULL, &r) != 0)
        return fm_err_set(err, FM_ERR_IO, "display: cannot draw the frame: %s", SDL_GetError());
    SDL_RenderPresent(d->ren);
    return FM_OK;
}

int fm_display_poll(fm_display *d)
{
    if (!d)
        return 1;
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        switch (e.type) {
        case SDL_QUIT:
            d->quit = 1;
            break;
        case SDL_WINDOWEVENT:
            if (e.window.event == SDL_WINDOWEVENT_CLOSE &&
                e.window.windowID == SDL_GetWindowID(d->win))
                d->quit = 1;
            break;
        case SDL_KEYDOWN:
            if (e.key.keysym.sym == SDLK_q || e.key.keysym.sym == SDLK_ESCAPE)
                d->quit = 1;
            break;
        default:
            break;
        }
    }
    return d->quit;
}

void fm_display_frame_rect(const fm_display *d, int *x, int *y, int *w, int *h)
{
    SDL_Rect r = {0, 0, 0, 0};
    if (d)
        r = d->dst;
    if (x)
        *x = r.x;
    if (y)
        *y = r.y;
    if (w)
        *w = r.w;
    if (h)
        *h = r.h;
}

void fm_display_close(fm_display *d)
{
    if (!d)
        return;
    if (d->tex)
        SDL_DestroyTexture(d->tex);
    if (d->ren)
        SDL_DestroyRenderer(d->ren);
    if (d->win)
        SDL_DestroyWindow(d->win);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    SDL_Quit();
    free(d);
}
