/* test_eval_report.c - src/eval/report: the JSON writer and the SVG charts.
 *
 * JSON: exact expected strings (compact and indented), escaping, numbers, every misuse,
 * and a small validating parser (RFC 8259 grammar) run over generated documents.
 * SVG: a small XML checker (balanced tags, quoted attributes, entities only) and the
 * elements each chart must contain.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/report.h"
#include "test.h"

/* Everything written to f, as a malloc'd string. */
static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!s)
        return NULL;
    rewind(f);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = '\0';
    return s;
}

/* ---- a validating JSON parser -------------------------------------------------------- */

static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char ch = (unsigned char)*p++;
        if (ch == '"')
            return p;
        if (ch < 0x20)
            return NULL; /* raw control characters (and the end of the text) are invalid */
        if (ch == '\\') {
            char e = *p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*p++))
                        return NULL;
            } else if (!strchr("\"\\/bfnrt", e) || !e) {
                return NULL;
            }
        }
    }
}

static const char *js_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static const char *js_seq(const char *p, char close, int depth, int object)
{
    p = js_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (object) {
            p = js_string(p);
            if (!p)
                return NULL;
            p = js_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        p = js_value(p, depth + 1);
        if (!p)
            return NULL;
        p = js_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = js_ws(p);
    }
}

static const char *js_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = js_ws(p);
    switch (*p) {
    case '{': return js_seq(p, '}', depth, 1);
    case '[': return js_seq(p, ']', depth, 0);
    case '"': return js_string(p);
    case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
    case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
    case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
    default: return js_number(p);
    }
}

static int json_valid(const char *s)
{
    const char *end = js_value(s, 0);
    return end && *js_ws(end) == '\0';
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void write_sample(fm_jsonw *j)
{
    fm_jsonw_object_begin(j);
    fm_jsonw_key(j, "name");
    fm_jsonw_string(j, "facemask");
    fm_jsonw_key(j, "epochs");
    fm_jsonw_int(j, -12);
    fm_jsonw_key(j, "acc");
    fm_jsonw_double(j, 0.9731);
    fm_jsonw_key(j, "ok");
    fm_jsonw_bool(j, 1);
    fm_jsonw_key(j, "none");
    fm_jsonw_null(j);
    fm_jsonw_key(j, "empty");
    fm_jsonw_array_begin(j);
    fm_jsonw_array_end(j);
    fm_jsonw_key(j, "list");
    fm_jsonw_array_begin(j);
    fm_jsonw_int(j, 1);
    fm_jsonw_object_begin(j);
    fm_jsonw_object_end(j);
    fm_jsonw_bool(j, 0);
    fm_jsonw_array_end(j);
    fm_jsonw_object_end(j);
}

static void test_json_compact_exact(void)
{
    FILE *f = tmpfile();
    FM_CHECK(f != NULL);
    if (!f)
        return;
    fm_jsonw j;
    fm_jsonw_init(&j, f, 0);
    write_sample(&j);
    fm_err err = {0};
    FM_CHECK_INT(fm_jsonw_finish(&j, &err), FM_OK);
    char *s = slurp(f);
    const char *want = "{\"name\":\"facemask\",\"epochs\":-12,\"acc\":0.9731,\"ok\":true,"
                       "\"none\":null,\"empty\":[],\"list\":[1,{},false]}";
    FM_CHECK_MSG(s && strcmp(s, want) == 0, "got %s", s ? s : "(null)");
    FM_CHECK(s && json_valid(s));
    free(s);
    fclose(f);
}

static void test_json_indented_exact(void)
{
    FILE *f = tmpfile();
    FM_CHECK(f != NULL);
    if (!f)
        return;
    fm_jsonw j;
    fm_jsonw_init(&j, f, 2);
    write_sample(&j);
    fm_err err = {0};
    FM_CHECK_INT(fm_jsonw_finish(&j, &err), FM_OK);
    char *s = slurp(f);
    const char *want = "{\n"
                       "  \"name\": \"facemask\",\n"
                       "  \"epochs\": -12,\n"
                       "  \"acc\": 0.9731,\n"
                       "  \"ok\": true,\n"
                       "  \"none\": null,\n"
                       "  \"empty\": [],\n"
                       "  \"list\": [\n"
                       "    1,\n"
                       "    {},\n"
                       "    false\n"
                       "  ]\n"
                       "}\n";
    FM_CHECK_MSG(s && strcmp(s, want) == 0, "got %s", s ? s : "(null)");
    FM_CHECK(s && json_valid(s));
    free(s);
    fclose(f);
}

static void test_json_escapes_and_numbers(void)
{
    FILE *f = tmpfile();
    FM_CHECK(f != NULL);
    if (!f)
        return;
    fm_jsonw j;
    fm_jsonw_init(&j, f, 0);
    fm_jsonw_array_begin(&j);
    fm_jsonw_string(&j, "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f \xc3\xa9");
    fm_jsonw_string(&j, "");
    fm_jsonw_string(&j, NULL);
    fm_jsonw_double(&j, NAN);
    fm_jsonw_double(&j, HUGE_VAL);
    fm_jsonw_double(&j, -0.0);
    fm_jsonw_double(&j, 1e-12);
    fm_jsonw_double(&j, 2.5e20);
    fm_jsonw_double(&j, 1.0 / 3);
    fm_jsonw_set_digits(&j, 17);
    fm_jsonw_double(&j, 0.1);
    fm_jsonw_set_digits(&j, 3);
    fm_jsonw_double(&j, 2.0 / 3);
    fm_jsonw_int(&j, -9223372036854775807LL - 1);
    const double v[] = {1, 0.5};
    fm_jsonw_doubles(&j, v, 2);
    fm_jsonw_set_digits(&j, 10);
    fm_jsonw_float(&j, 2e-4f); /* as a double, 0.0001999999949 */
    fm_jsonw_float(&j, 0.15f);
    fm_jsonw_float(&j, 1.2345678f); /* FLT_DIG digits */
    fm_jsonw_float(&j, -0.0f);
    fm_jsonw_float(&j, NAN);
    fm_jsonw_set_digits(&j, 3);
    fm_jsonw_float(&j, 0.15625f); /* fewer digits when asked */
    fm_jsonw_array_end(&j);
    fm_err err = {0};
    FM_CHECK_INT(fm_jsonw_finish(&j, &err), FM_OK);
    char *s = slurp(f);
    const char *want = "[\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f \xc3\xa9\",\"\",null,"
                       "null,null,0,1e-12,2.5e+20,0.3333333333,0.10000000000000001,0.667,"
                       "-9223372036854775808,[1,0.5],0.0002,0.15,1.23457,0,null,0.156]";
    FM_CHECK_MSG(s && strcmp(s, want) == 0, "got %s", s ? s : "(null)");
    FM_CHECK(s && json_valid(s));
    free(s);
    fclose(f);
}

/* Runs a misuse script; the finish status and message are checked by the caller. */
static fm_status misuse(int which, fm_err *err)
{
    FILE *f = tmpfile();
    if (!f)
        return FM_ERR_IO;
    fm_jsonw j;
    fm_jsonw_init(&j, f, 0);
    switch (which) {
    case 0: /* value without a key */
        fm_jsonw_object_begin(&j);
        fm_jsonw_int(&j, 1);
        fm_jsonw_object_end(&j);
        break;
    case 1: /* key in an array */
        fm_jsonw_array_begin(&j);
        fm_jsonw_key(&j, "k");
        fm_jsonw_array_end(&j);
        break;
    case 2: /* wrong closer */
        fm_jsonw_array_begin(&j);
        fm_jsonw_object_end(&j);
        break;
    case 3: /* unfinished */
        fm_jsonw_object_begin(&j);
        fm_jsonw_key(&j, "k");
        fm_jsonw_array_begin(&j);
        break;
    case 4: /* two top-level values */
        fm_jsonw_int(&j, 1);
        fm_jsonw_int(&j, 2);
        break;
    case 5: /* key without a value */
        fm_jsonw_object_begin(&j);
        fm_jsonw_key(&j, "a");
        fm_jsonw_object_end(&j);
        break;
    case 6: /* too deep */
        for (int i = 0; i <= FM_JSONW_MAX_DEPTH; i++)
            fm_jsonw_array_begin(&j);
        break;
    case 7: /* nothing */
        break;
    case 8: /* two keys in a row */
        fm_jsonw_object_begin(&j);
        fm_jsonw_key(&j, "a");
        fm_jsonw_key(&j, "b");
        break;
    case 9: /* closing at top level */
        fm_jsonw_array_end(&j);
        break;
    }
    fm_status st = fm_jsonw_finish(&j, err);
    fclose(f);
    return st;
}

static void test_json_misuse(void)
{
    static const char *const want[] = {
        "json writer: int at depth 1: a value inside an object needs a key first",
        "json writer: key at depth 1: keys belong directly inside an object",
        "json writer: object_end at depth 1: the innermost open value is an array",
        "json writer: finish at depth 2: values are still open",
        "json writer: int at depth 0: the document is already complete",
        "json writer: object_end at depth 1: the last key has no value",
        "json writer: array_begin at depth 32: nesting deeper than FM_JSONW_MAX_DEPTH",
        "json writer: finish at depth 0: nothing was written",
        "json writer: key at depth 1: the previous key has no value",
        "json writer: array_end at depth 0: nothing is open",
    };
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        fm_err err = {0};
        FM_CHECK_INT(misuse(i, &err), FM_ERR_ARG);
        FM_CHECK_MSG(strcmp(err.msg, want[i]) == 0, "misuse %d: \"%s\", expected \"%s\"", i,
                     err.msg, want[i]);
    }
}

/* Random documents: nested objects and arrays, strings with every byte 1..255, numbers. */
static void random_value(fm_jsonw *j, uint64_t *rng, int depth)
{
    uint32_t r = fm_test_rand(rng) % (depth < 6 ? 8 : 5);
    char s[24];
    switch (r) {
    case 0: fm_jsonw_int(j, (long long)fm_test_rand(rng) - 2147483648LL); break;
    case 1: fm_jsonw_double(j, fm_test_randf(rng, -1e6f, 1e6f) * pow(10, fm_test_rand(rng) % 40 - 20.0)); break;
    case 2:
        for (int i = 0; i < (int)sizeof s - 1; i++)
            s[i] = (char)(1 + fm_test_rand(rng) % 255);
        s[fm_test_rand(rng) % sizeof s] = '\0';
        s[sizeof s - 1] = '\0';
        fm_jsonw_string(j, s);
        break;
    case 3: fm_jsonw_bool(j, (int)(fm_test_rand(rng) & 1)); break;
    case 4: fm_jsonw_null(j); break;
    case 5:
    case 6: {
        int n = (int)(fm_test_rand(rng) % 5);
        fm_jsonw_array_begin(j);
        for (int i = 0; i < n; i++)
            random_value(j, rng, depth + 1);
        fm_jsonw_array_end(j);
        break;
    }
    default: {
        int n = (int)(fm_test_rand(rng) % 5);
        fm_jsonw_object_begin(j);
        for (int i = 0; i < n; i++) {
            snprintf(s, sizeof s, "k\"%d\n", i);
            fm_jsonw_key(j, s);
            random_value(j, rng, depth + 1);
        }
        fm_jsonw_object_end(j);
        break;
    }
    }
}

static void test_json_random_documents_parse(void)
{
    uint64_t rng = 12345;
    for (int t = 0; t < 200; t++) {
        FILE *f = tmpfile();
        FM_CHECK(f != NULL);
        if (!f)
            return;
        fm_jsonw j;
        fm_jsonw_init(&j, f, t % 3);
        random_value(&j, &rng, 0);
        fm_err err = {0};
        FM_CHECK_INT(fm_jsonw_finish(&j, &err), FM_OK);
        char *s = slurp(f);
        FM_CHECK_MSG(s && json_valid(s), "document %d does not parse: %s", t, s ? s : "");
        free(s);
        fclose(f);
        if (fm_test_failed_now())
            return;
    }
    /* the validator itself rejects what it must */
    FM_CHECK(!json_valid("{\"a\":1,}"));
    FM_CHECK(!json_valid("[\"a\nb\"]"));
    FM_CHECK(!json_valid("[01]"));
    FM_CHECK(!json_valid("[nan]"));
    FM_CHECK(!json_valid("{\"a\" 1}"));
    FM_CHECK(!json_valid("[1] 2"));
}

static void test_json_confusion(void)
{
    FILE *f = tmpfile();
    FM_CHECK(f != NULL);
    if (!f)
        return;
    fm_confusion cm;
    fm_confusion_init(&cm, 2, NULL);
    cm.counts[0][0] = 3;
    cm.counts[0][1] = 1;
    cm.counts[1][0] = 2;
    cm.counts[1][1] = 4;
    const char *names[] = {"mask", "no_mask"};
    fm_jsonw j;
    fm_jsonw_init(&j, f, 0);
    fm_jsonw_set_digits(&j, 4);
    fm_jsonw_confusion(&j, &cm, names);
    fm_err err = {0};
    FM_CHECK_INT(fm_jsonw_finish(&j, &err), FM_OK);
    char *s = slurp(f);
    const char *want =
        "{\"classes\":[\"mask\",\"no_mask\"],\"matrix\":[[3,1],[2,4]],\"total\":10,"
        "\"accuracy\":0.7,\"macro_f1\":0.697,\"per_class\":{"
        "\"mask\":{\"precision\":0.6,\"recall\":0.75,\"f1\":0.6667,\"support\":4,\"tp\":3,"
        "\"fp\":2,\"fn\":1},"
        "\"no_mask\":{\"precision\":0.8,\"recall\":0.6667,\"f1\":0.7273,\"support\":6,\"tp\":4,"
        "\"fp\":1,\"fn\":2}}}";
    FM_CHECK_MSG(s && strcmp(s, want) == 0, "got %s", s ? s : "(null)");
    free(s);
    fclose(f);
}

/* ---- a small XML checker ------------------------------------------------------------------- */

/* 1 if s is well-formed enough: one root, balanced and properly nested tags, quoted
 * attributes, no raw '<' or '>' or unknown '&' in text or attribute values. On failure
 * *where is set to the byte offset. */
static int xml_well_formed(const char *s, long *where)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        if (!p)
            goto bad;
        p += 2;
    }
    while (*p) {
        if (*p == '<') {
            int closing = p[1] == '/';
            const char *q = p + 1 + closing;
            char name[32];
            int n = 0;
            while (isalnum((unsigned char)*q) || *q == '-' || *q == ':') {
                if (n < 31)
                    name[n++] = *q;
                q++;
            }
            name[n] = '\0';
            if (!n)
                goto bad;
            if (closing) {
                if (*q != '>' || depth == 0 || strcmp(stack[depth - 1], name) != 0)
                    goto bad;
                depth--;
                p = q + 1;
                continue;
            }
            for (;;) { /* attributes */
                while (isspace((unsigned char)*q))
                    q++;
                if (*q == '>' || (q[0] == '/' && q[1] == '>'))
                    break;
                if (!isalpha((unsigned char)*q))
                    goto bad;
                while (isalnum((unsigned char)*q) || *q == '-' || *q == ':' || *q == '_')
                    q++;
                if (*q++ != '=' || *q++ != '"')
                    goto bad;
                while (*q && *q != '"') {
                    if (*q == '<' || *q == '>')
                        goto bad;
                    q++;
                }
                if (*q++ != '"')
                    goto bad;
            }
            if (depth == 0)
                roots++;
            if (*q == '/') {
                p = q + 2;
            } else {
                if (depth == 64)
                    goto bad;
                strcpy(stack[depth++], name);
                p = q + 1;
            }
        } else if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5; i++)
                ok |= strncmp(p, ents[i], strlen(ents[i])) == 0;
            if (!ok)
                goto bad;
            p++;
        } else if (*p == '>') {
            goto bad;
        } else {
            if (depth == 0 && !isspace((unsigned char)*p))
                goto bad;
            p++;
        }
    }
    if (depth == 0 && roots == 1)
        return 1;
bad:
    *where = (long)(p - s);
    return 0;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static char *svg_string(const fm_svg_report *r, fm_status *st, fm_err *err)
{
    FILE *f = tmpfile();
    if (!f) {
        *st = FM_ERR_IO;
        return NULL;
    }
    *st = fm_svg_write(f, r, err);
    char *s = slurp(f);
    fclose(f);
    return s;
}

static void check_svg(const char *s)
{
    long where = -1;
    FM_CHECK(s != NULL);
    if (!s)
        return;
    int ok = xml_well_formed(s, &where);
    FM_CHECK_MSG(ok, "SVG not well-formed at byte %ld: %.60s", where, ok ? "" : s + where);
    FM_CHECK_STR_CONTAINS(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
}

static const double tl[] = {0.69, 0.52, 0.41, 0.35, 0.30, 0.22, 0.18, 0.16, 0.15, 0.145};
static const double vl[] = {0.62, 0.50, 0.43, 0.40, 0.38, 0.29, 0.26, 0.25, 0.255, 0.26};
static const double ta[] = {0.61, 0.74, 0.81, 0.85, 0.87, 0.91, 0.93, 0.945, 0.95, 0.955};
static const double va[] = {0.66, 0.75, 0.80, 0.83, 0.84, 0.89, 0.905, 0.915, 0.912, 0.91};

static void test_svg_full_report(void)
{
    fm_svg_curves cv = {10, tl, vl, ta, va, 6, 8};
    fm_confusion cm;
    fm_confusion_init(&cm, 2, NULL);
    cm.counts[0][0] = 412;
    cm.counts[0][1] = 23;
    cm.counts[1][0] = 31;
    cm.counts[1][1] = 388;
    const char *names[] = {"mask", "no_mask & <other>"};
    const char *cells[] = {"class", "precision", "recall", "F1",    "mask", "0.930",
                           "0.947", "0.938",     "no_mask", "0.944", "0.926", "0.935"};
    fm_svg_table t = {3, 4, cells, "Per-class metrics"};
    fm_svg_report r = {"facemask \"training\"", &cv, &cm, names, NULL, &t};
    fm_status st;
    fm_err err = {0};
    char *s = svg_string(&r, &st, &err);
    FM_CHECK_INT(st, FM_OK);
    check_svg(s);
    if (!s)
        return;
    FM_CHECK_INT(count_of(s, "<polyline"), 4); /* one per curve */
    FM_CHECK_STR_CONTAINS(s, "data-series=\"train_loss\"");
    FM_CHECK_STR_CONTAINS(s, "data-series=\"val_acc\"");
    FM_CHECK_STR_CONTAINS(s, ">mask</text>");
    FM_CHECK_STR_CONTAINS(s, ">no_mask &amp; &lt;other&gt;</text>"); /* escaped */
    FM_CHECK_STR_CONTAINS(s, ">facemask &quot;training&quot;</text>");
    FM_CHECK_STR_CONTAINS(s, ">412</text>");
    FM_CHECK_STR_CONTAINS(s, ">94.7%</text>"); /* 412 / 435 */
    FM_CHECK_STR_CONTAINS(s, ">7.4%</text>");  /* 31 / 419 */
    FM_CHECK_STR_CONTAINS(s, ">phase 2");
    FM_CHECK_STR_CONTAINS(s, ">best (8)</text>");
    FM_CHECK_STR_CONTAINS(s, ">Per-class metrics</text>");
    FM_CHECK_STR_CONTAINS(s, ">precision</text>");
    FM_CHECK_STR_CONTAINS(s, "font-family=\"sans-serif\"");
    FM_CHECK_INT(count_of(s, "class=\"cell\""), 4);
    free(s);
}

static void test_svg_parts_and_edge_cases(void)
{
    fm_status st;
    fm_err err = {0};
    /* curves only, with missing series and NaN points */
    const double gappy[] = {0.5, NAN, 0.4};
    fm_svg_curves cv = {3, gappy, NULL, NULL, NULL, 0, 0};
    fm_svg_report r = {NULL, &cv, NULL, NULL, NULL, NULL};
    char *s = svg_string(&r, &st, &err);
    FM_CHECK_INT(st, FM_OK);
    check_svg(s);
    FM_CHECK_INT(count_of(s, "<polyline"), 1);
    FM_CHECK(s && !strstr(s, "nan") && !strstr(s, "inf"));
    /* no accuracy series: one panel (loss), not an empty accuracy panel beside it */
    FM_CHECK_INT(count_of(s, "class=\"panel\""), 1);
    FM_CHECK(s && !strstr(s, ">Accuracy</text>"));
    free(s);
    /* one epoch; zero epochs */
    const double one[] = {0.3};
    fm_svg_curves c1 = {1, one, one, one, one, 1, 1};
    r.curves = &c1;
    s = svg_string(&r, &st, &err);
    FM_CHECK_INT(st, FM_OK);
    check_svg(s);
    FM_CHECK(s && !strstr(s, "nan") && !strstr(s, "inf"));
    free(s);
    fm_svg_curves c0 = {0, NULL, NULL, NULL, NULL, 0, 0};
    r.curves = &c0;
    s = svg_string(&r, &st, &err);
    FM_CHECK_INT(st, FM_OK);
    check_svg(s);
    FM_CHECK_STR_CONTAINS(s, ">no data</text>");
    free(s);
    /* a 16-class confusion matrix alone, including an empty row */
    fm_confusion cm;
    fm_confusion_init(&cm, 16, NULL);
    const char *names[16];
    char buf[16][24];
    for (int i = 0; i < 16; i++) {
        snprintf(buf[i], sizeof buf[i], "class_%d", i);
        names[i] = buf[i];
        for (int k = 0; k < 16 && i < 15; k++)
            cm.counts[i][k] = (i == k) ? 50 : (i + k) % 3;
    }
    fm_svg_report rc = {NULL, NULL, &cm, names, "Sixteen", NULL};
    s = svg_string(&rc, &st, &err);
    FM_CHECK_INT(st, FM_OK);
    check_svg(s);
    FM_CHECK_INT(count_of(s, "class=\"cell\""), 256);
    FM_CHECK_STR_CONTAINS(s, ">class_15</text>");
    FM_CHECK(s && !strstr(s, "nan"));
    free(s);
}

static void test_svg_errors(void)
{
    fm_err err = {0};
    fm_confusion cm;
    fm_confusion_init(&cm, 2, NULL);
    fm_svg_report r = {NULL, NULL, &cm, NULL, NULL, NULL};
    FILE *f = tmpfile();
    FM_CHECK(f != NULL);
    if (!f)
        return;
    FM_CHECK_INT(fm_svg_write(f, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "svg: a confusion matrix needs class names");
    const char *cells[] = {"a"};
    fm_svg_table t = {65, 1, cells, NULL};
    fm_svg_report rt = {NULL, NULL, NULL, NULL, NULL, &t};
    FM_CHECK_INT(fm_svg_write(f, &rt, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "table of 65 x 1 cells, expected 1..64 rows x 1..12 columns");
    fm_svg_curves cv = {-1, NULL, NULL, NULL, NULL, 0, 0};
    fm_svg_report rv = {NULL, &cv, NULL, NULL, NULL, NULL};
    FM_CHECK_INT(fm_svg_write(f, &rv, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "svg: -1 epochs");
    fclose(f);
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/r.svg", fm_test_tmpdir());
    FM_CHECK_INT(fm_svg_save(path, &rv, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "no/such/dir/r.svg: cannot create");
    /* and a good save */
    snprintf(path, sizeof path, "%s/r.svg", fm_test_tmpdir());
    fm_svg_report ok = {"t", NULL, NULL, NULL, NULL, NULL};
    FM_CHECK_INT(fm_svg_save(path, &ok, &err), FM_OK);
    size_t len;
    char *s = fm_test_read_file(path, &len);
    check_svg(s);
    free(s);
}

void suite_eval_report(void);
void suite_eval_report(void)
{
    FM_RUN(test_json_compact_exact);
    FM_RUN(test_json_indented_exact);
    FM_RUN(test_json_escapes_and_numbers);
    FM_RUN(test_json_misuse);
    FM_RUN(test_json_random_documents_parse);
    FM_RUN(test_json_confusion);
    FM_RUN(test_svg_full_report);
    FM_RUN(test_svg_parts_and_edge_cases);
    FM_RUN(test_svg_errors);
}
