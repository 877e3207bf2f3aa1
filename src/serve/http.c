/* http.c - fm_http_start/stop, the request dispatcher and authentication (serve/http.h). */
#include "serve/http.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "serve/http_internal.h"

/* --- responses --------------------------------------------------------------------------- */

static void common_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

enum MHD_Result fm_http_send(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    common_headers(r, type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result fm_http_send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                 fm_text *b)
{
    if (b->oom) {
        free(b->p);
        *b = (fm_text){0};
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(b->len, b->p ? b->p : (void *)"", b->p ? MHD_RESPMEM_MUST_FREE
                                                                           : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(b->p);
        *b = (fm_text){0};
        return MHD_NO;
    }
    *b = (fm_text){0};
    common_headers(r, type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result fm_http_send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    fm_text b = {0};
    fm_text_str(&b, "{\"error\":");
    fm_text_json_str(&b, msg);
    fm_text_str(&b, "}\n");
    if (b.oom) {
        free(b.p);
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        return fm_http_send(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", oom,
                            sizeof oom - 1);
    }
    return fm_http_send_buf(c, status, "application/json", &b);
}

/* --- history handles --------------------------------------------------------------------- */

fm_history *fm_http_history_take(fm_http *h, fm_err *err)
{
    fm_history *hist = NULL;
    pthread_mutex_lock(&h->hist_mu);
    if (h->nhist_free > 0)
        hist = h->hist_free[--h->nhist_free];
    pthread_mutex_unlock(&h->hist_mu);
    if (!hist)
        hist = fm_history_open(h->site->database.path, FM_HISTORY_CREATE, err);
    return hist;
}

void fm_http_history_give(fm_http *h, fm_history *hist)
{
    if (!hist)
        return;
    pthread_mutex_lock(&h->hist_mu);
    int keep = h->nhist_free < (int)(sizeof h->hist_free / sizeof h->hist_free[0]);
    if (keep)
        h->hist_free[h->nhist_free++] = hist;
    pthread_mutex_unlock(&h->hist_mu);
    if (!keep)
        fm_history_close(hist);
}

/* --- authentication ---------------------------------------------------------------------- */

/* Compares two strings in time that depends only on their lengths' maximum. */
static int same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), n = na > nb ? na : nb;
    unsigned diff = (unsigned)(na != nb);
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < na ? (unsigned char)a[i] : 0;
        unsigned char cb = i < nb ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(ca ^ cb);
    }
    return diff == 0;
}

static int auth_required(const fm_http *h)
{
    return h->site->http.token || h->site->http.user;
}

/* 1 when the request carries valid credentials. */
static int authorized(fm_http *h, struct MHD_Connection *c)
{
    const fm_site_http *cfg = &h->site->http;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (cfg->token && auth && !strncasecmp(auth, "Bearer ", 7)) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        return same_secret(t, cfg->token);
    }
    if (cfg->user && cfg->password_hash && auth && !strncasecmp(auth, "Basic ", 6)) {
        pthread_mutex_lock(&h->auth_mu);
        int cached = h->basic_ok[0] && same_secret(auth, h->basic_ok);
        pthread_mutex_unlock(&h->auth_mu);
        if (cached)
            return 1;
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        int ok = 0;
        if (user && pass) {
            struct crypt_data *cd = calloc(1, sizeof *cd);
            if (cd) {
                const char *hash = crypt_r(pass, cfg->password_hash, cd);
                /* both compared in full: no early exit on the user name */
                int user_ok = same_secret(user, cfg->user);
                int pass_ok = hash && hash[0] != '*' && same_secret(hash, cfg->password_hash);
                ok = user_ok & pass_ok;
                explicit_bzero(cd, sizeof *cd);
                free(cd);
            }
        }
        if (pass) {
            explicit_bzero(pass, strlen(pass));
            MHD_free(pass);
        }
        if (user)
            MHD_free(user);
        if (ok && strlen(auth) < sizeof h->basic_ok) {
            pthread_mutex_lock(&h->auth_mu);
            snprintf(h->basic_ok, sizeof h->basic_ok, "%s", auth);
            pthread_mutex_unlock(&h->auth_mu);
        }
        return ok;
    }
    return 0;
}

static enum MHD_Result send_unauthorized(fm_http *h, struct MHD_Connection *c)
{
    static const char body[] = "{\"error\":\"authentication required\"}\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    common_headers(r, "application/json");
    if (h->site->http.user)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"facemask\", charset=\"UTF-8\"");
    if (h->site->http.token)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"facemask\"");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
    MHD_destroy_response(r);
    return ok;
}

/* --- dispatcher -------------------------------------------------------------------------- */

static enum MHD_Result send_asset(struct MHD_Connection *c, const char *url)
{
    for (int i = 0; i < fm_web_nassets; i++) {
        const fm_web_asset *a = &fm_web_assets[i];
        if (strcmp(a->path, url) != 0)
            continue;
        struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data,
                                                                 MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self' "
                                "'unsafe-inline'");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }
    return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such page");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fm_http *h = cls;
    (void)version;
    (void)upload_data;
    if (!strcmp(url, "/healthz") && (!strcmp(method, "GET") || !strcmp(method, "HEAD")))
        return fm_http_send(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3);
    if (auth_required(h) && !authorized(h, c))
        return send_unauthorized(h, c);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        /* answered before any body is read; MHD closes the connection after it */
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof "{\"error\":\"only GET and HEAD\"}\n" - 1,
            (void *)"{\"error\":\"only GET and HEAD\"}\n", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        common_headers(r, "application/json");
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (*upload_data_size) /* a GET with a body: not read, not wanted */
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, "a GET request has no body");
    (void)con_cls;
    if (!strcmp(url, "/metrics"))
        return fm_http_metrics(h, c);
    if (!strncmp(url, "/api/", 5))
        return fm_http_api(h, c, url);
    return send_asset(c, url);
}

/* libmicrohttpd's word that a connection was accepted (within the limits) or is gone. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    (void)socket_context;
    fm_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&h->connections, 1);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&h->connections, 1);
}

/* libmicrohttpd's own messages (a client's failed TLS handshake, a refused connection) as
 * facemask info lines: details, not failures of serve. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!fm_log_enabled(FM_LOG_INFO))
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    fm_log(FM_LOG_INFO, "http: libmicrohttpd: %s", msg);
}

/* --- start and stop ---------------------------------------------------------------------- */

static char *read_pem(const char *path, const char *what, fm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fm_err_set(err, FM_ERR_IO, "http: cannot read the TLS %s %s: %s", what, path,
                   strerror(errno));
        return NULL;
    }
    fm_text b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        fm_text_put(&b, chunk, n);
    int bad = ferror(f) || b.oom || b.len == 0 || b.len >= (1u << 20);
    fclose(f);
    if (bad) {
        fm_err_set(err, FM_ERR_IO, "http: cannot read the TLS %s %s: %s", what, path,
                   b.len == 0 ? "empty file" : b.oom ? "out of memory" : "read error or over 1 MiB");
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Resolves the listen address (numeric or "localhost") with the port. */
static int resolve(const char *addr, int port, struct sockaddr_storage *ss, fm_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(addr, service, &hints, &res);
    if (rc != 0 || !res) {
        fm_err_set(err, FM_ERR_ARG, "http: listen address '%s': %s", addr, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    int family = res->ai_family;
    freeaddrinfo(res);
    return family;
}

static void free_http(fm_http *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->nhist_free; i++)
        fm_history_close(h->hist_free[i]);
    pthread_mutex_destroy(&h->hist_mu);
    pthread_mutex_destroy(&h->auth_mu);
    explicit_bzero(h->basic_ok, sizeof h->basic_ok);
    if (h->tls_key)
        explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h->tls_cert);
    free(h);
}

fm_http *fm_http_start(const fm_site_config *site, fm_site_state *state, fm_mqtt *mqtt,
                       fm_err *err)
{
    if (!site || !state) {
        fm_err_set(err, FM_ERR_ARG, "http: NULL %s", !site ? "site config" : "state");
        return NULL;
    }
    const fm_site_http *cfg = &site->http;
    const char *addr = cfg->listen ? cfg->listen : "127.0.0.1";
    if (!fm_site_is_loopback(addr) && !cfg->token && !cfg->user) {
        fm_err_set(err, FM_ERR_ARG,
                   "http: listening on %s (not loopback) needs authentication: set http.token "
                   "or http.user with http.password_hash",
                   addr);
        return NULL;
    }
    if (cfg->user && !cfg->password_hash) {
        fm_err_set(err, FM_ERR_ARG, "http: user '%s' has no password_hash", cfg->user);
        return NULL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        fm_err_set(err, FM_ERR_ARG, "http: port %d, expected 1 to 65535", cfg->port);
        return NULL;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fm_err_set(err, FM_ERR_ARG, "http: TLS needs both tls_cert and tls_key");
        return NULL;
    }
    fm_http *h = calloc(1, sizeof *h);
    if (!h) {
        fm_err_set(err, FM_ERR_NOMEM, "http: out of memory");
        return NULL;
    }
    h->site = site;
    h->state = state;
    h->mqtt = mqtt;
    pthread_mutex_init(&h->hist_mu, NULL);
    pthread_mutex_init(&h->auth_mu, NULL);

    /* the history must open now, so a bad database path is a start-up error */
    fm_err herr = {0};
    fm_history *hist = fm_http_history_take(h, &herr);
    if (!hist) {
        fm_err_set(err, herr.status, "http: %s", herr.msg);
        free_http(h);
        return NULL;
    }
    fm_http_history_give(h, hist);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int family = resolve(addr, cfg->port, &ss, err);
    if (family < 0) {
        free_http(h);
        return NULL;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fm_err_set(err, FM_ERR_UNSUPPORTED,
                       "http: this libmicrohttpd was built without TLS; remove http.tls_cert "
                       "and http.tls_key or install one with TLS");
            free_http(h);
            return NULL;
        }
        if (!(h->tls_cert = read_pem(cfg->tls_cert, "certificate", err)) ||
            !(h->tls_key = read_pem(cfg->tls_key, "key", err))) {
            free_http(h);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    if (!(h->live = fm_http_live_start(h, err))) {
        free_http(h);
        return NULL;
    }
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)FM_HTTP_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)FM_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)FM_HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FM_HTTP_REQUEST_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)FM_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY,
        cfg->tls_cert ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        fm_err_set(err, FM_ERR_IO, "http: cannot listen on %s:%d%s%s%s", addr, cfg->port,
                   e ? ": " : "", e ? strerror(e) : "",
                   cfg->tls_cert ? " (or the TLS certificate and key were refused)" : "");
        fm_http_live_shutdown(h->live);
        fm_http_live_free(h->live);
        free_http(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info && info->port ? info->port : cfg->port;
    return h;
}

int fm_http_port(const fm_http *h)
{
    return h ? h->port : 0;
}

int fm_http_connections(fm_http *h)
{
    return h ? atomic_load(&h->connections) : 0;
}

void fm_http_stop(fm_http *h)
{
    if (!h)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->daemon); /* no new connections */
    if (s != MHD_INVALID_SOCKET)
        close(s);
    fm_http_live_shutdown(h->live); /* every stream resumed and told to end */
    MHD_stop_daemon(h->daemon);
    fm_http_live_free(h->live);
    free_http(h);
}
