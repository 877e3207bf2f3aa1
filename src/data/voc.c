/* voc.c - a small bounded XML reader and PASCAL VOC annotations (see voc.h). */
#include "data/voc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/walk.h"

/* ---- the XML tree ----------------------------------------------------------------------
 * One element per node: its name and content are spans of the source buffer. */
typedef struct {
    size_t name, name_len;
    size_t content, content_end; /* between the start tag's '>' and the end tag's '<' */
    size_t at;                   /* offset of the start tag, for line numbers */
    int parent, first_child, last_child, next;
} xml_node;

typedef struct {
    const char *s;
    size_t len;
    const char *source;
    xml_node *nodes;
    int n, cap;
    fm_err *err;
} xml_doc;

static int line_of(const xml_doc *d, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < d->len; i++)
        line += d->s[i] == '\n';
    return line;
}

static int starts(const xml_doc *d, size_t pos, const char *lit)
{
    const size_t n = strlen(lit);
    return pos <= d->len && d->len - pos >= n && memcmp(d->s + pos, lit, n) == 0;
}

/* Offset of the first occurrence of lit at or after pos, or d->len. */
static size_t find(const xml_doc *d, size_t pos, const char *lit)
{
    const size_t n = strlen(lit);
    for (size_t i = pos; i + n <= d->len; i++)
        if (memcmp(d->s + i, lit, n) == 0)
            return i;
    return d->len;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
    return name_start(c) || isdigit(c) || c == '-' || c == '.';
}

static fm_status syntax(xml_doc *d, size_t at, const char *what)
{
    return fm_err_set(d->err, FM_ERR_PARSE, "%s: line %d: %s", d->source, line_of(d, at), what);
}

/* Reads a name at *pos; 0 if there is none. */
static int read_name(const xml_doc *d, size_t *pos, size_t *len)
{
    size_t p = *pos;
    if (p >= d->len || !name_start((unsigned char)d->s[p]))
        return 0;
    while (p < d->len && name_char((unsigned char)d->s[p]))
        p++;
    *len = p - *pos;
    *pos = p;
    return 1;
}

static fm_status xml_parse(xml_doc *d)
{
    int stack[FM_VOC_MAX_DEPTH];
    int depth = 0, root = -1;
    size_t pos = 0;
    char msg[200];
    if (starts(d, 0, "\xEF\xBB\xBF"))
        pos = 3;
    while (pos < d->len) {
        if (d->s[pos] != '<') {
            const size_t lt = find(d, pos, "<");
            if (depth == 0)
                for (size_t i = pos; i < lt; i++)
                    if (!is_space(d->s[i]))
                        return syntax(d, i, "text outside the root element");
            pos = lt;
            continue;
        }
        if (starts(d, pos, "<?")) {
            const size_t e = find(d, pos + 2, "?>");
            if (e == d->len)
                return syntax(d, pos, "unterminated processing instruction '<?'");
            pos = e + 2;
        } else if (starts(d, pos, "<!--")) {
            const size_t e = find(d, pos + 4, "-->");
            if (e == d->len)
                return syntax(d, pos, "unclosed comment '<!--'");
            pos = e + 3;
        } else if (starts(d, pos, "<![CDATA[")) {
            if (depth == 0)
                return syntax(d, pos, "CDATA outside the root element");
            const size_t e = find(d, pos + 9, "]]>");
            if (e == d->len)
                return syntax(d, pos, "unclosed CDATA section");
            pos = e + 3;
        } else if (starts(d, pos, "<!DOCTYPE")) {
            if (depth > 0 || root >= 0)
                return syntax(d, pos, "DOCTYPE after the root element started");
            size_t p = pos + 9;
            while (p < d->len && d->s[p] != '>') {
                if (d->s[p] == '[')
                    return fm_err_set(d->err, FM_ERR_UNSUPPORTED,
                                      "%s: line %d: DOCTYPE with an internal subset", d->source,
                                      line_of(d, p));
                p++;
            }
            if (p == d->len)
                return syntax(d, pos, "unterminated DOCTYPE");
            pos = p + 1;
        } else if (starts(d, pos, "<!")) {
            return syntax(d, pos, "unknown markup '<!'");
        } else if (starts(d, pos, "</")) {
            size_t p = pos + 2, nlen;
            if (!read_name(d, &p, &nlen))
                return syntax(d, pos, "end tag without a name");
            while (p < d->len && is_space(d->s[p]))
                p++;
            if (p >= d->len || d->s[p] != '>')
                return syntax(d, pos, "end tag not closed by '>'");
            if (depth == 0) {
                snprintf(msg, sizeof msg, "end tag </%.*s> without a start tag", (int)nlen,
                         d->s + pos + 2);
                return syntax(d, pos, msg);
            }
            xml_node *open = &d->nodes[stack[depth - 1]];
            if (open->name_len != nlen || memcmp(d->s + open->name, d->s + pos + 2, nlen) != 0) {
                snprintf(msg, sizeof msg, "end tag </%.*s> does not match <%.*s> (line %d)",
                         (int)(nlen > 60 ? 60 : nlen), d->s + pos + 2,
                         (int)(open->name_len > 60 ? 60 : open->name_len), d->s + open->name,
                         line_of(d, open->at));
                return syntax(d, pos, msg);
            }
            open->content_end = pos;
            depth--;
            pos = p + 1;
        } else {
            size_t p = pos + 1, nlen;
            if (!read_name(d, &p, &nlen))
                return syntax(d, pos, "'<' not followed by a tag name");
            if (depth == 0 && root >= 0)
                return syntax(d, pos, "a second root element");
            if (depth >= FM_VOC_MAX_DEPTH)
                return fm_err_set(d->err, FM_ERR_LIMIT, "%s: line %d: elements nested deeper than %d",
                                  d->source, line_of(d, pos), FM_VOC_MAX_DEPTH);
            /* attributes */
            int empty = 0;
            for (;;) {
                const size_t before = p;
                while (p < d->len && is_space(d->s[p]))
                    p++;
                if (p >= d->len)
                    return syntax(d, pos, "unclosed start tag");
                if (d->s[p] == '>') {
                    p++;
                    break;
                }
                if (starts(d, p, "/>")) {
                    p += 2;
                    empty = 1;
                    break;
                }
                size_t alen;
                if (p == before || !read_name(d, &p, &alen))
                    return syntax(d, p, "malformed attribute in a start tag");
                while (p < d->len && is_space(d->s[p]))
                    p++;
                if (p >= d->len || d->s[p] != '=')
                    return syntax(d, p, "attribute without '='");
                p++;
                while (p < d->len && is_space(d->s[p]))
                    p++;
                if (p >= d->len || (d->s[p] != '"' && d->s[p] != '\''))
                    return syntax(d, p, "attribute value not quoted");
                const char q = d->s[p++];
                while (p < d->len && d->s[p] != q && d->s[p] != '<')
                    p++;
                if (p >= d->len || d->s[p] != q)
                    return syntax(d, p, "unterminated attribute value");
                p++;
            }
            if (d->n >= FM_VOC_MAX_ELEMENTS)
                return fm_err_set(d->err, FM_ERR_LIMIT, "%s: more than %d elements", d->source,
                                  FM_VOC_MAX_ELEMENTS);
            if (d->n == d->cap) {
                int ncap = d->cap ? d->cap * 2 : 64;
                if (ncap > FM_VOC_MAX_ELEMENTS)
                    ncap = FM_VOC_MAX_ELEMENTS;
                xml_node *nn = realloc(d->nodes, sizeof *nn * (size_t)ncap);
                if (!nn)
                    return fm_err_set(d->err, FM_ERR_NOMEM, "%s: out of memory", d->source);
                d->nodes = nn;
                d->cap = ncap;
            }
            const int id = d->n++;
            xml_node *nd = &d->nodes[id];
            nd->name = pos + 1;
            nd->name_len = nlen;
            nd->content = nd->content_end = p;
            nd->at = pos;
            nd->parent = depth ? stack[depth - 1] : -1;
            nd->first_child = nd->last_child = nd->next = -1;
            if (nd->parent >= 0) {
                xml_node *par = &d->nodes[nd->parent];
                if (par->last_child >= 0)
                    d->nodes[par->last_child].next = id;
                else
                    par->first_child = id;
                par->last_child = id;
            } else {
                root = id;
            }
            if (!empty)
                stack[depth++] = id;
            pos = p;
        }
    }
    if (depth > 0) {
        const xml_node *open = &d->nodes[stack[depth - 1]];
        snprintf(msg, sizeof msg, "unclosed tag <%.*s> (opened at line %d)",
                 (int)(open->name_len > 60 ? 60 : open->name_len), d->s + open->name,
                 line_of(d, open->at));
        return syntax(d, d->len, msg);
    }
    if (root < 0)
        return fm_err_set(d->err, FM_ERR_PARSE, "%s: no root element", d->source);
    return FM_OK;
}

static int node_is(const xml_doc *d, int id, const char *name)
{
    const xml_node *n = &d->nodes[id];
    return strlen(name) == n->name_len && memcmp(d->s + n->name, name, n->name_len) == 0;
}

static int child(const xml_doc *d, int id, const char *name)
{
    for (int c = d->nodes[id].first_child; c >= 0; c = d->nodes[c].next)
        if (node_is(d, c, name))
            return c;
    return -1;
}

/* The decoded, trimmed text of a leaf element into buf (cap FM_VOC_MAX_TEXT + 1).
 * ctx names the element for messages. */
static fm_status node_text(xml_doc *d, int id, const char *ctx, char *buf)
{
    const xml_node *n = &d->nodes[id];
    if (n->first_child >= 0)
        return fm_err_set(d->err, FM_ERR_FORMAT, "%s: %s: expected text, found child elements",
                          d->source, ctx);
    size_t k = 0;
    char tmp[FM_VOC_MAX_TEXT + 1];
    for (size_t p = n->content; p < n->content_end;) {
        const char c = d->s[p];
        if (starts(d, p, "<!--")) {
            p = find(d, p + 4, "-->") + 3;
            continue;
        }
        if (starts(d, p, "<![CDATA[")) {
            const size_t e = find(d, p + 9, "]]>");
            for (size_t i = p + 9; i < e; i++) {
                if (k >= FM_VOC_MAX_TEXT)
                    goto too_long;
                tmp[k++] = d->s[i];
            }
            p = e + 3;
            continue;
        }
        if (c == '<') { /* a processing instruction inside the text: skip it */
            p = find(d, p, ">") + 1;
            continue;
        }
        unsigned long cp = (unsigned char)c;
        if (c == '&') {
            size_t semi = p + 1;
            while (semi < n->content_end && semi - p < 12 && d->s[semi] != ';')
                semi++;
            if (semi >= n->content_end || d->s[semi] != ';')
                return fm_err_set(d->err, FM_ERR_PARSE, "%s: line %d: %s: '&' without ';'",
                                  d->source, line_of(d, p), ctx);
            const char *e = d->s + p + 1;
            const size_t elen = semi - p - 1;
            if (elen == 2 && !memcmp(e, "lt", 2))
                cp = '<';
            else if (elen == 2 && !memcmp(e, "gt", 2))
                cp = '>';
            else if (elen == 3 && !memcmp(e, "amp", 3))
                cp = '&';
            else if (elen == 4 && !memcmp(e, "quot", 4))
                cp = '"';
            else if (elen == 4 && !memcmp(e, "apos", 4))
                cp = '\'';
            else if (elen >= 2 && e[0] == '#') {
                const int hex = e[1] == 'x' || e[1] == 'X';
                cp = 0;
                size_t i = hex ? 2 : 1;
                if (i >= elen)
                    cp = 0x110000;
                for (; i < elen; i++) {
                    const unsigned char h = (unsigned char)e[i];
                    int v = isdigit(h) ? h - '0' : hex && isxdigit(h) ? (tolower(h) - 'a' + 10) : -1;
                    if (v < 0 || cp > 0x10FFFF) {
                        cp = 0x110000;
                        break;
                    }
                    cp = cp * (hex ? 16u : 10u) + (unsigned)v;
                }
                if (cp == 0 || cp > 0x10FFFF)
                    return fm_err_set(d->err, FM_ERR_PARSE,
                                      "%s: line %d: %s: bad character reference '&%.*s;'",
                                      d->source, line_of(d, p), ctx, (int)elen, e);
            } else {
                return fm_err_set(d->err, FM_ERR_PARSE, "%s: line %d: %s: unknown entity '&%.*s;'",
                                  d->source, line_of(d, p), ctx, (int)elen, e);
            }
            p = semi + 1;
        } else {
            p++;
        }
        /* UTF-8 encode cp (plain bytes pass through as they are). */
        unsigned char u[4];
        int nu = 0;
        if (cp < 0x80 || c != '&')
            u[nu++] = (unsigned char)cp;
        else if (cp < 0x800)
            u[nu++] = (unsigned char)(0xC0 | (cp >> 6)), u[nu++] = (unsigned char)(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
            u[nu++] = (unsigned char)(0xE0 | (cp >> 12)),
            u[nu++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[nu++] = (unsigned char)(0x80 | (cp & 0x3F));
        else
            u[nu++] = (unsigned char)(0xF0 | (cp >> 18)),
            u[nu++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
            u[nu++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[nu++] = (unsigned char)(0x80 | (cp & 0x3F));
        if (k + (size_t)nu > FM_VOC_MAX_TEXT)
            goto too_long;
        memcpy(tmp + k, u, (size_t)nu);
        k += (size_t)nu;
    }
    size_t a = 0, b = k;
    while (a < b && is_space(tmp[a]))
        a++;
    while (b > a && is_space(tmp[b - 1]))
        b--;
    memcpy(buf, tmp + a, b - a);
    buf[b - a] = '\0';
    return FM_OK;
too_long:
    return fm_err_set(d->err, FM_ERR_LIMIT, "%s: %s: text longer than %d bytes", d->source, ctx,
                      FM_VOC_MAX_TEXT);
}

/* A decimal number: [+-]digits[.digits] or [+-].digits, at most 12 digits in total. */
static int parse_number(const char *s, double *out, int integer)
{
    const char *p = s;
    int neg = 0, digits = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    double v = 0.0, scale = 1.0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10.0 + (*p++ - '0');
        digits++;
    }
    if (*p == '.' && !integer) {
        p++;
        while (isdigit((unsigned char)*p)) {
            scale /= 10.0;
            v += (*p++ - '0') * scale;
            digits++;
        }
    }
    if (*p != '\0' || digits == 0 || digits > 12)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

static fm_status field_number(xml_doc *d, int parent, const char *name, const char *ctx,
                              int required, int integer, double *out)
{
    char what[160], text[FM_VOC_MAX_TEXT + 1];
    snprintf(what, sizeof what, "%s<%s>", ctx, name);
    const int id = child(d, parent, name);
    if (id < 0) {
        if (required)
            return fm_err_set(d->err, FM_ERR_FORMAT, "%s: %s is missing", d->source, what);
        *out = 0.0;
        return FM_OK;
    }
    fm_status st = node_text(d, id, what, text);
    if (st != FM_OK)
        return st;
    if (!parse_number(text, out, integer))
        return fm_err_set(d->err, FM_ERR_FORMAT, "%s: line %d: %s: '%.40s' is not %s", d->source,
                          line_of(d, d->nodes[id].at), what, text,
                          integer ? "an integer" : "a number");
    return FM_OK;
}

static fm_status read_annotation(xml_doc *d, fm_voc *v)
{
    const int root = 0;
    if (!node_is(d, root, "annotation"))
        return fm_err_set(d->err, FM_ERR_FORMAT, "%s: root element is <%.*s>, expected <annotation>",
                          d->source, (int)(d->nodes[root].name_len > 60 ? 60 : d->nodes[root].name_len),
                          d->s + d->nodes[root].name);
    fm_status st;
    const int fn = child(d, root, "filename");
    if (fn >= 0 && (st = node_text(d, fn, "<filename>", v->filename)) != FM_OK)
        return st;
    const int size = child(d, root, "size");
    if (size >= 0) {
        double w, h, dep;
        if ((st = field_number(d, size, "width", "<size> ", 1, 1, &w)) != FM_OK ||
            (st = field_number(d, size, "height", "<size> ", 1, 1, &h)) != FM_OK ||
            (st = field_number(d, size, "depth", "<size> ", 0, 1, &dep)) != FM_OK)
            return st;
        if (w < 0 || h < 0 || dep < 0 || w > 1e6 || h > 1e6 || dep > 1e6)
            return fm_err_set(d->err, FM_ERR_FORMAT,
                              "%s: <size> %gx%gx%g is out of range (0..1000000)", d->source, w, h,
                              dep);
        v->width = (int)w;
        v->height = (int)h;
        v->depth = (int)dep;
    }
    int n = 0;
    for (int c = d->nodes[root].first_child; c >= 0; c = d->nodes[c].next)
        n += node_is(d, c, "object");
    if (n > FM_VOC_MAX_OBJECTS)
        return fm_err_set(d->err, FM_ERR_LIMIT, "%s: %d objects, more than %d", d->source, n,
                          FM_VOC_MAX_OBJECTS);
    if (n > 0) {
        v->objects = calloc((size_t)n, sizeof *v->objects);
        if (!v->objects)
            return fm_err_set(d->err, FM_ERR_NOMEM, "%s: out of memory for %d objects", d->source, n);
    }
    int k = 0;
    for (int c = d->nodes[root].first_child; c >= 0; c = d->nodes[c].next) {
        if (!node_is(d, c, "object"))
            continue;
        fm_voc_object *o = &v->objects[k++];
        char ctx[64], ctx2[96];
        snprintf(ctx, sizeof ctx, "<object> %d: ", k);
        const int nm = child(d, c, "name");
        if (nm < 0)
            return fm_err_set(d->err, FM_ERR_FORMAT, "%s: %s<name> is missing", d->source, ctx);
        snprintf(ctx2, sizeof ctx2, "%s<name>", ctx);
        if ((st = node_text(d, nm, ctx2, o->name)) != FM_OK)
            return st;
        double fl[3];
        static const char *flags[3] = {"difficult", "truncated", "occluded"};
        for (int i = 0; i < 3; i++) {
            if ((st = field_number(d, c, flags[i], ctx, 0, 1, &fl[i])) != FM_OK)
                return st;
        }
        o->difficult = fl[0] != 0.0;
        o->truncated = fl[1] != 0.0;
        o->occluded = fl[2] != 0.0;
        const int bb = child(d, c, "bndbox");
        if (bb < 0)
            return fm_err_set(d->err, FM_ERR_FORMAT, "%s: %s<bndbox> is missing", d->source, ctx);
        snprintf(ctx2, sizeof ctx2, "%s<bndbox> ", ctx);
        double b[4];
        static const char *names[4] = {"xmin", "ymin", "xmax", "ymax"};
        for (int i = 0; i < 4; i++) {
            if ((st = field_number(d, bb, names[i], ctx2, 1, 0, &b[i])) != FM_OK)
                return st;
        }
        const double lim[4] = {v->width, v->height, v->width, v->height};
        for (int i = 0; i < 4; i++) {
            if (lim[i] > 0 && (b[i] < 0 || b[i] > lim[i])) {
                b[i] = b[i] < 0 ? 0 : lim[i];
                o->clamped = 1;
            }
        }
        if (b[2] <= b[0] || b[3] <= b[1])
            return fm_err_set(d->err, FM_ERR_FORMAT,
                              "%s: line %d: %s<bndbox> is empty (%g, %g, %g, %g%s)", d->source,
                              line_of(d, d->nodes[bb].at), ctx, b[0], b[1], b[2], b[3],
                              o->clamped ? " after clamping to the image" : "");
        o->xmin = (float)b[0];
        o->ymin = (float)b[1];
        o->xmax = (float)b[2];
        o->ymax = (float)b[3];
    }
    v->n_objects = n;
    return FM_OK;
}

fm_status fm_voc_parse(const char *xml, size_t len, const char *source, fm_voc *out, fm_err *err)
{
    if (!out)
        return fm_err_set(err, FM_ERR_ARG, "voc: no output");
    memset(out, 0, sizeof *out);
    if (!source)
        source = "(xml)";
    if (!xml)
        return fm_err_set(err, FM_ERR_ARG, "%s: no data", source);
    if (len > FM_VOC_MAX_BYTES)
        return fm_err_set(err, FM_ERR_LIMIT, "%s: %zu bytes, more than the %u-byte limit", source,
                          len, FM_VOC_MAX_BYTES);
    xml_doc d = {xml, len, source, NULL, 0, 0, err};
    fm_status st = xml_parse(&d);
    if (st == FM_OK)
        st = read_annotation(&d, out);
    free(d.nodes);
    if (st != FM_OK)
        fm_voc_free(out);
    return st;
}

fm_status fm_voc_load(const char *path, fm_voc *out, fm_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out)
        return fm_err_set(err, FM_ERR_ARG, "voc: no path or output");
    FILE *f = fopen(path, "rb");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(FM_VOC_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", path);
    }
    const size_t n = fread(buf, 1, FM_VOC_MAX_BYTES + 1, f);
    const int bad = ferror(f);
    fclose(f);
    fm_status st;
    if (bad)
        st = fm_err_set(err, FM_ERR_IO, "%s: read error", path);
    else if (n > FM_VOC_MAX_BYTES)
        st = fm_err_set(err, FM_ERR_LIMIT, "%s: larger than the %u-byte limit", path,
                        FM_VOC_MAX_BYTES);
    else
        st = fm_voc_parse(buf, n, path, out, err);
    free(buf);
    return st;
}

void fm_voc_free(fm_voc *v)
{
    if (!v)
        return;
    free(v->objects);
    memset(v, 0, sizeof *v);
}

int fm_voc_label(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "with_mask"))
        return FM_VOC_WITH_MASK;
    if (!strcmp(name, "without_mask"))
        return FM_VOC_WITHOUT_MASK;
    if (!strcmp(name, "mask_weared_incorrect"))
        return FM_VOC_INCORRECT;
    return -1;
}

const char *fm_voc_label_name(int label)
{
    switch (label) {
    case FM_VOC_WITH_MASK: return "with_mask";
    case FM_VOC_WITHOUT_MASK: return "without_mask";
    case FM_VOC_INCORRECT: return "mask_weared_incorrect";
    default: return "?";
    }
}

/* ---- folders ------------------------------------------------------------------------- */

typedef struct {
    char *stem, *path;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->stem, ((const named *)b)->stem);
}

static void free_named(named *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].stem);
        free(v[i].path);
    }
    free(v);
}

/* Regular files in dir with one of exts, sorted by stem (fm_walk, one level). */
static fm_status list_files(const char *dir, const char *const *exts, named **out, int *count,
                            int *skipped, fm_err *err)
{
    *out = NULL;
    *count = 0;
    const fm_walk_opts o = {.exts = exts, .max_depth = 0, .max_entries = 1u << 24};
    fm_walk_list l;
    fm_status st = fm_walk(dir, &o, &l, err);
    *skipped += (int)l.skipped;
    named *v = st == FM_OK && l.n ? calloc(l.n, sizeof *v) : NULL;
    if (st == FM_OK && l.n && !v)
        st = fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory listing files", dir);
    int n = 0;
    for (size_t i = 0; st == FM_OK && i < l.n; i++) {
        const char *dot = strrchr(l.v[i].rel, '.'); /* fm_walk matched an extension */
        v[n].stem = strndup(l.v[i].rel, (size_t)(dot - l.v[i].rel));
        if (!v[n].stem) {
            st = fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory listing files", dir);
            break;
        }
        v[n++].path = l.v[i].path;
        l.v[i].path = NULL;
    }
    fm_walk_list_free(&l);
    if (st != FM_OK) {
        free_named(v, n);
        return st;
    }
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, cmp_named);
    *out = v;
    *count = n;
    return FM_OK;
}

fm_status fm_voc_list(const char *dir, fm_voc_dir *out, fm_err *err)
{
    const char *const *img_ext = fm_walk_image_exts;
    static const char *const xml_ext[] = {"xml", NULL};
    if (!out)
        return fm_err_set(err, FM_ERR_ARG, "voc: no output");
    memset(out, 0, sizeof *out);
    if (!dir)
        return fm_err_set(err, FM_ERR_ARG, "voc: no folder");
    char idir[4096], adir[4096];
    if ((size_t)snprintf(idir, sizeof idir, "%s/images", dir) >= sizeof idir ||
        (size_t)snprintf(adir, sizeof adir, "%s/annotations", dir) >= sizeof adir)
        return fm_err_set(err, FM_ERR_LIMIT, "voc: folder path too long");
    named *im = NULL, *ax = NULL;
    int ni = 0, na = 0;
    fm_status st = list_files(idir, img_ext, &im, &ni, &out->skipped, err);
    if (st == FM_OK)
        st = list_files(adir, xml_ext, &ax, &na, &out->skipped, err);
    for (int i = 0; st == FM_OK && i + 1 < ni; i++)
        if (!strcmp(im[i].stem, im[i + 1].stem))
            st = fm_err_set(err, FM_ERR_FORMAT, "%s: two images with the stem '%s' (%s, %s)", idir,
                            im[i].stem, im[i].path, im[i + 1].path);
    for (int i = 0; st == FM_OK && i + 1 < na; i++)
        if (!strcmp(ax[i].stem, ax[i + 1].stem))
            st = fm_err_set(err, FM_ERR_FORMAT, "%s: two annotations with the stem '%s'", adir,
                            ax[i].stem);
    if (st == FM_OK && na > 0) {
        out->items = calloc((size_t)na, sizeof *out->items);
        if (!out->items)
            st = fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", dir);
    }
    int i = 0, j = 0;
    while (st == FM_OK && (i < ni || j < na)) {
        const int c = i >= ni ? 1 : j >= na ? -1 : strcmp(im[i].stem, ax[j].stem);
        if (c < 0) {
            out->images_without_xml++;
            i++;
        } else if (c > 0) {
            out->xml_without_image++;
            j++;
        } else {
            fm_voc_item *it = &out->items[out->n++];
            it->stem = im[i].stem;
            it->image = im[i].path;
            it->xml = ax[j].path;
            im[i].stem = im[i].path = NULL;
            ax[j].path = NULL;
            i++;
            j++;
        }
    }
    free_named(im, ni);
    free_named(ax, na);
    if (st != FM_OK)
        fm_voc_dir_free(out);
    return st;
}

void fm_voc_dir_free(fm_voc_dir *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++) {
        free(d->items[i].stem);
        free(d->items[i].image);
        free(d->items[i].xml);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}
