/* Tests for src/io/prototxt: exact small documents, every error path with
 * its file:line:col, typed reads, limits, and the two shared network files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe/prototxt.h"
#include "test.h"

static fm_ptxt *parse(const char *text, fm_err *err)
{
    return fm_ptxt_parse(text, strlen(text), "t.prototxt", err);
}

/* Parses text that must fail; checks the status and the whole message. */
static void expect_error(const char *text, fm_status status, const char *msg)
{
    fm_err err = {0};
    fm_ptxt *doc = parse(text, &err);
    FM_CHECK_MSG(doc == NULL, "parsed but should fail: %s", text);
    fm_ptxt_free(doc);
    FM_CHECK_MSG(err.status == status, "status %s, expected %s for: %s", fm_status_str(err.status),
                 fm_status_str(status), text);
    FM_CHECK_MSG(strcmp(err.msg, msg) == 0, "message\n    \"%s\"\n  expected\n    \"%s\"",
                 err.msg, msg);
}

static void test_prototxt_nested_and_repeated(void)
{
    const char *text = "name: \"net\"\n"
                       "layer {\n"
                       "  name: 'a'  type: \"Convolution\"\n"
                       "  convolution_param { num_output: 32 kernel_size: 3 }\n"
                       "  bottom: \"x\" bottom: \"y\"\n"
                       "}\n"
                       "layer { name: \"b\" phase: TEST }\n";
    fm_err err = {0};
    fm_ptxt *doc = parse(text, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    const fm_ptxt_node *root = fm_ptxt_root(doc);
    FM_CHECK(root->value == NULL);
    FM_CHECK_INT(fm_ptxt_count(root, "layer"), 2);
    FM_CHECK_INT(fm_ptxt_count(root, "name"), 1);
    FM_CHECK(strcmp(fm_ptxt_get_str(root, "name", ""), "net") == 0);
    const fm_ptxt_node *l = fm_ptxt_get(root, "layer");
    FM_CHECK(l && l->value == NULL && l->line == 2 && l->col == 1);
    FM_CHECK(strcmp(fm_ptxt_get_str(l, "name", ""), "a") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(l, "type", ""), "Convolution") == 0);
    const fm_ptxt_node *cp = fm_ptxt_get(l, "convolution_param");
    FM_CHECK(cp && cp->line == 4 && cp->col == 3);
    long long v = 0;
    FM_CHECK(fm_ptxt_get_int(cp, "num_output", 0, &v, &err) == FM_OK && v == 32);
    FM_CHECK(fm_ptxt_get_int(cp, "kernel_size", 0, &v, &err) == FM_OK && v == 3);
    FM_CHECK(fm_ptxt_get_int(cp, "stride", 1, &v, &err) == FM_OK && v == 1); /* default */
    const fm_ptxt_node *b = fm_ptxt_get(l, "bottom");
    FM_CHECK(b && strcmp(b->value, "x") == 0 && b->is_string);
    b = fm_ptxt_next_named(b);
    FM_CHECK(b && strcmp(b->value, "y") == 0 && b->line == 5 && b->col == 15);
    FM_CHECK(fm_ptxt_next_named(b) == NULL);
    const fm_ptxt_node *l2 = fm_ptxt_next_named(l);
    FM_CHECK(l2 && l2->line == 7);
    const fm_ptxt_node *ph = fm_ptxt_get(l2, "phase");
    FM_CHECK(ph && strcmp(ph->value, "TEST") == 0 && !ph->is_string);
    FM_CHECK(fm_ptxt_next_named(l2) == NULL);
    /* field order is file order */
    const char *order[] = {"name", "type", "convolution_param", "bottom", "bottom"};
    int i = 0;
    for (const fm_ptxt_node *f = l->child; f; f = f->next, i++)
        FM_CHECK(i < 5 && strcmp(f->name, order[i]) == 0);
    FM_CHECK_INT(i, 5);
    char where[64];
    FM_CHECK(strcmp(fm_ptxt_where(cp, where, sizeof where), "t.prototxt:4:3") == 0);
    FM_CHECK(strcmp(fm_ptxt_filename(doc), "t.prototxt") == 0);
    FM_CHECK(fm_ptxt_get(root, "missing") == NULL);
    FM_CHECK(strcmp(fm_ptxt_get_str(root, "missing", "dflt"), "dflt") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(root, "layer", "msg"), "msg") == 0); /* a message */
    fm_ptxt_free(doc);
}

static void test_prototxt_strings(void)
{
    const char *text = "a: \"tab\\there\\nnl\\\\ \\\" \\' q\"\n"
                       "b: 'single \"dq\" \\'sq\\''\n"
                       "c: \"\\101\\x42\\x4a\\7\\0123\"\n"
                       "d: \"con\" 'cat' \"enated\"\n"
                       "e: \"\"\n"
                       "f: \"caf\xc3\xa9 \\?\"\n"
                       "g: \"# not a comment\" # a comment\n";
    fm_err err = {0};
    fm_ptxt *doc = parse(text, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    const fm_ptxt_node *r = fm_ptxt_root(doc);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "a", ""), "tab\there\nnl\\ \" ' q") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "b", ""), "single \"dq\" 'sq'") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "c", ""), "ABJ\a\n3") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "d", ""), "concatenated") == 0);
    const fm_ptxt_node *e = fm_ptxt_get(r, "e");
    FM_CHECK(e && e->is_string && strcmp(e->value, "") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "f", ""), "caf\xc3\xa9 ?") == 0);
    FM_CHECK(strcmp(fm_ptxt_get_str(r, "g", ""), "# not a comment") == 0);
    FM_CHECK_INT(fm_ptxt_count(r, "g"), 1);
    fm_ptxt_free(doc);
}

static void test_prototxt_syntax_variants(void)
{
    /* `name: {`, angle brackets, separators, lists, comments, CRLF, BOM, no final newline */
    const char *text = "\xef\xbb\xbf# header comment\r\n"
                       "p: { x: 1; y: 2, }\r\n"
                       "q < z: -3 >;\n"
                       "q: < z: +4 >\n"
                       "dim: [1, 2, 3] empty: []\n"
                       "m: [{v: 1}, <v: 2>]\n"
                       "neg: - 5 ni: -inf pi: +inf nn: nan f: 1.5f e: -2.5e-3 h: 0x1F o: 017 d: .5";
    fm_err err = {0};
    fm_ptxt *doc = parse(text, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    const fm_ptxt_node *r = fm_ptxt_root(doc);
    long long i = 0;
    double f = 0;
    const fm_ptxt_node *p = fm_ptxt_get(r, "p");
    FM_CHECK(p && p->line == 2 && p->col == 1); /* the BOM takes no column */
    FM_CHECK(fm_ptxt_get_int(p, "x", 0, &i, &err) == FM_OK && i == 1);
    FM_CHECK(fm_ptxt_get_int(p, "y", 0, &i, &err) == FM_OK && i == 2);
    FM_CHECK_INT(fm_ptxt_count(r, "q"), 2);
    const fm_ptxt_node *q = fm_ptxt_get(r, "q");
    FM_CHECK(fm_ptxt_get_int(q, "z", 0, &i, &err) == FM_OK && i == -3);
    FM_CHECK(fm_ptxt_get_int(fm_ptxt_next_named(q), "z", 0, &i, &err) == FM_OK && i == 4);
    FM_CHECK_INT(fm_ptxt_count(r, "dim"), 3);
    FM_CHECK_INT(fm_ptxt_count(r, "empty"), 0);
    int k = 1;
    for (const fm_ptxt_node *d = fm_ptxt_get(r, "dim"); d; d = fm_ptxt_next_named(d), k++)
        FM_CHECK(fm_ptxt_int(d, &i, &err) == FM_OK && i == k && d->line == 5 && d->col == 1);
    FM_CHECK_INT(fm_ptxt_count(r, "m"), 2);
    const fm_ptxt_node *m = fm_ptxt_get(r, "m");
    FM_CHECK(fm_ptxt_get_int(fm_ptxt_next_named(m), "v", 0, &i, &err) == FM_OK && i == 2);
    FM_CHECK(fm_ptxt_get_int(r, "neg", 0, &i, &err) == FM_OK && i == -5);
    FM_CHECK(fm_ptxt_get_float(r, "ni", 0, &f, &err) == FM_OK && isinf(f) && f < 0);
    FM_CHECK(fm_ptxt_get_float(r, "pi", 0, &f, &err) == FM_OK && isinf(f) && f > 0);
    FM_CHECK(fm_ptxt_get_float(r, "nn", 0, &f, &err) == FM_OK && isnan(f));
    FM_CHECK(fm_ptxt_get_float(r, "f", 0, &f, &err) == FM_OK && f == 1.5);
    FM_CHECK(fm_ptxt_get_float(r, "e", 0, &f, &err) == FM_OK && f == -2.5e-3);
    FM_CHECK(fm_ptxt_get_int(r, "h", 0, &i, &err) == FM_OK && i == 31);
    FM_CHECK(fm_ptxt_get_int(r, "o", 0, &i, &err) == FM_OK && i == 15);
    FM_CHECK(fm_ptxt_get_float(r, "d", 0, &f, &err) == FM_OK && f == 0.5);
    fm_ptxt_free(doc);

    /* an empty document and one holding only comments are valid and empty */
    doc = parse("", &err);
    FM_CHECK(doc && fm_ptxt_root(doc)->child == NULL);
    fm_ptxt_free(doc);
    doc = parse("  # nothing\n\n", &err);
    FM_CHECK(doc && fm_ptxt_root(doc)->child == NULL);
    fm_ptxt_free(doc);
    doc = fm_ptxt_parse("a: 1 b: 2", 4, "t", &err); /* not NUL-terminated: only "a: 1" */
    FM_CHECK(doc && fm_ptxt_count(fm_ptxt_root(doc), "a") == 1 &&
             fm_ptxt_get(fm_ptxt_root(doc), "b") == NULL);
    fm_ptxt_free(doc);
}

static void test_prototxt_typed_reads(void)
{
    const char *text = "i: 42 n: -7 big: 9223372036854775807 over: 9223372036854775808\n"
                       "fl: 0.25 ex: 1e-3 huge: 1e999 s: \"12\" id: CENTER\n"
                       "t: true f: false T: True one: 1 zero: 0 tt: t ff: f\n"
                       "msg { }\n";
    fm_err err = {0};
    fm_ptxt *doc = parse(text, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    const fm_ptxt_node *r = fm_ptxt_root(doc);
    long long i = 0;
    double d = 0;
    int b = -1;
    FM_CHECK(fm_ptxt_get_int(r, "i", 0, &i, &err) == FM_OK && i == 42);
    FM_CHECK(fm_ptxt_get_int(r, "n", 0, &i, &err) == FM_OK && i == -7);
    FM_CHECK(fm_ptxt_get_int(r, "big", 0, &i, &err) == FM_OK && i == 9223372036854775807LL);
    FM_CHECK(fm_ptxt_get_int(r, "over", 0, &i, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:1:38: field 'over': 9223372036854775808 is out of range "
                             "for a 64-bit integer") == 0);
    FM_CHECK(fm_ptxt_get_int(r, "fl", 0, &i, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:2:1: field 'fl': expected an integer, found '0.25'") == 0);
    FM_CHECK(fm_ptxt_get_float(r, "fl", 0, &d, &err) == FM_OK && d == 0.25);
    FM_CHECK(fm_ptxt_get_float(r, "ex", 0, &d, &err) == FM_OK && d == 1e-3);
    FM_CHECK(fm_ptxt_get_float(r, "i", 0, &d, &err) == FM_OK && d == 42.0);
    FM_CHECK(fm_ptxt_get_float(r, "huge", 0, &d, &err) == FM_ERR_FORMAT);
    FM_CHECK_STR_CONTAINS(err.msg, "t.prototxt:2:19: field 'huge': 1e999 is out of range");
    FM_CHECK(fm_ptxt_get_int(r, "s", 0, &i, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:2:31: field 's': expected an integer, found string "
                             "\"12\"") == 0);
    FM_CHECK(fm_ptxt_get_float(r, "id", 0, &d, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:2:39: field 'id': expected a number, found 'CENTER'") ==
             0);
    FM_CHECK(fm_ptxt_get_int(r, "msg", 0, &i, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:4:1: field 'msg': expected an integer, found a message") ==
             0);
    FM_CHECK(fm_ptxt_get_bool(r, "t", 0, &b, &err) == FM_OK && b == 1);
    FM_CHECK(fm_ptxt_get_bool(r, "f", 1, &b, &err) == FM_OK && b == 0);
    FM_CHECK(fm_ptxt_get_bool(r, "T", 0, &b, &err) == FM_OK && b == 1);
    FM_CHECK(fm_ptxt_get_bool(r, "one", 0, &b, &err) == FM_OK && b == 1);
    FM_CHECK(fm_ptxt_get_bool(r, "zero", 1, &b, &err) == FM_OK && b == 0);
    FM_CHECK(fm_ptxt_get_bool(r, "tt", 0, &b, &err) == FM_OK && b == 1);
    FM_CHECK(fm_ptxt_get_bool(r, "ff", 1, &b, &err) == FM_OK && b == 0);
    FM_CHECK(fm_ptxt_get_bool(r, "absent", 1, &b, &err) == FM_OK && b == 1);
    FM_CHECK(fm_ptxt_get_bool(r, "i", 0, &b, &err) == FM_ERR_FORMAT);
    FM_CHECK(strcmp(err.msg, "t.prototxt:1:1: field 'i': expected true or false, found '42'") == 0);
    FM_CHECK(fm_ptxt_int(NULL, &i, &err) == FM_ERR_ARG);
    fm_ptxt_free(doc);
}

static void test_prototxt_errors(void)
{
    expect_error("layer {\n  foo }\n", FM_ERR_PARSE,
                 "t.prototxt:2:7: expected ':' or '{' after field name 'foo', found '}'");
    expect_error("a: 1\nlayer {\n  name: \"x\"\n", FM_ERR_PARSE,
                 "t.prototxt:4:1: expected '}' to close 'layer' opened at 2:7, found end of file");
    expect_error("q < a: 1 }", FM_ERR_PARSE,
                 "t.prototxt:1:10: expected '>' to close 'q' opened at 1:3, found '}'");
    expect_error("a: 1 }", FM_ERR_PARSE, "t.prototxt:1:6: unexpected '}': no message is open");
    expect_error("a: }", FM_ERR_PARSE,
                 "t.prototxt:1:4: expected a value (number, identifier or string) for field 'a', "
                 "found '}'");
    expect_error("a:", FM_ERR_PARSE,
                 "t.prototxt:1:3: expected a value (number, identifier or string) for field 'a', "
                 "found end of file");
    expect_error("a: 1 2", FM_ERR_PARSE, "t.prototxt:1:6: expected a field name, found '2'");
    expect_error("\"s\": 1", FM_ERR_PARSE, "t.prototxt:1:1: expected a field name, found string \"s\"");
    expect_error("; a: 1", FM_ERR_PARSE, "t.prototxt:1:1: expected a field name, found ';'");
    expect_error("a: \"abc\nb: 1", FM_ERR_PARSE,
                 "t.prototxt:1:4: unterminated string (missing closing \")");
    expect_error("a: 'abc", FM_ERR_PARSE, "t.prototxt:1:4: unterminated string (missing closing ')");
    expect_error("a: \"x\\qy\"", FM_ERR_PARSE, "t.prototxt:1:6: unknown escape '\\q' in string");
    expect_error("a: \"\\xZZ\"", FM_ERR_PARSE,
                 "t.prototxt:1:5: escape '\\x' needs one or two hex digits");
    expect_error("a: \"\\777\"", FM_ERR_PARSE,
                 "t.prototxt:1:5: octal escape is 511, above 255 (\\377)");
    expect_error("a: \"\\0\"", FM_ERR_PARSE,
                 "t.prototxt:1:5: string contains a NUL byte, which is not supported");
    expect_error("a: 1.2.3", FM_ERR_PARSE, "t.prototxt:1:4: malformed number '1.2.3'");
    expect_error("a: 12abc", FM_ERR_PARSE, "t.prototxt:1:4: malformed number '12abc'");
    expect_error("a: 09", FM_ERR_PARSE, "t.prototxt:1:4: malformed number '09'");
    expect_error("a: 1e", FM_ERR_PARSE, "t.prototxt:1:4: malformed number '1e'");
    expect_error("a: 0x", FM_ERR_PARSE, "t.prototxt:1:4: malformed number '0x'");
    expect_error("a: -foo", FM_ERR_PARSE,
                 "t.prototxt:1:5: expected a number after '-' (at 1:4), found 'foo'");
    expect_error("a: @", FM_ERR_PARSE, "t.prototxt:1:4: unexpected character '@'");
    expect_error("a: 1\n\x01", FM_ERR_PARSE, "t.prototxt:2:1: unexpected byte 0x01");
    expect_error("a: [1 2]", FM_ERR_PARSE,
                 "t.prototxt:1:7: expected ',' or ']' in the list of 'a', found '2'");
    expect_error("a [1]", FM_ERR_PARSE,
                 "t.prototxt:1:3: expected ':' or '{' after field name 'a', found '['");
    expect_error("a: [1,", FM_ERR_PARSE,
                 "t.prototxt:1:7: expected a value (number, identifier or string) for field 'a', "
                 "found end of file");
    expect_error("averyveryveryveryverylongname } ", FM_ERR_PARSE,
                 "t.prototxt:1:31: expected ':' or '{' after field name "
                 "'averyveryveryveryverylongname', found '}'");
    expect_error("a: \"x\" \"y\\q\"", FM_ERR_PARSE,
                 "t.prototxt:1:10: unknown escape '\\q' in string");
    /* a NUL byte in the middle of the text */
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_parse("a: 1\0b: 2", 9, "t.prototxt", &err);
    FM_CHECK(doc == NULL && strcmp(err.msg, "t.prototxt:1:5: unexpected byte 0x00") == 0);
    fm_ptxt_free(doc);
    /* NULL filename and NULL text */
    doc = fm_ptxt_parse("a {", 3, NULL, &err);
    FM_CHECK(doc == NULL && strstr(err.msg, "<prototxt>:1:4: expected '}'") == err.msg);
    FM_CHECK(fm_ptxt_parse(NULL, 5, "t", &err) == NULL && err.status == FM_ERR_ARG);
    doc = fm_ptxt_parse(NULL, 0, "t", &err);
    FM_CHECK(doc != NULL);
    fm_ptxt_free(doc);
    /* the size limit is checked before the text is read */
    static const char small[] = "a: 1";
    FM_CHECK(fm_ptxt_parse(small, (size_t)FM_PTXT_MAX_BYTES + 1, "big.prototxt", &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_LIMIT);
    FM_CHECK_STR_CONTAINS(err.msg, "big.prototxt: 67108865 bytes exceeds the 67108864-byte limit");
    /* a missing file */
    FM_CHECK(fm_ptxt_read("/nonexistent/x.prototxt", &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK(strcmp(err.msg, "/nonexistent/x.prototxt: cannot open: No such file or directory") ==
             0);
}

static void test_prototxt_depth_limit(void)
{
    char buf[FM_PTXT_MAX_DEPTH * 4 + 16];
    for (int depth = FM_PTXT_MAX_DEPTH; depth <= FM_PTXT_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "m{");
        for (int i = 0; i < depth; i++)
            buf[n++] = '}';
        fm_err err = {0};
        fm_ptxt *doc = fm_ptxt_parse(buf, n, "deep", &err);
        if (depth == FM_PTXT_MAX_DEPTH) {
            FM_CHECK_MSG(doc != NULL, "%s", err.msg);
            const fm_ptxt_node *m = fm_ptxt_root(doc);
            int d = 0;
            while ((m = fm_ptxt_get(m, "m")))
                d++;
            FM_CHECK_INT(d, FM_PTXT_MAX_DEPTH);
        } else {
            FM_CHECK(doc == NULL);
            FM_CHECK_INT(err.status, FM_ERR_LIMIT);
            FM_CHECK(strcmp(err.msg, "deep:1:130: messages nested deeper than 64 levels") == 0);
        }
        fm_ptxt_free(doc);
    }
    /* a hostile depth far beyond the limit fails the same way, without deep recursion */
    size_t n = 200000;
    char *deep = malloc(n);
    if (!deep)
        return;
    for (size_t i = 0; i < n; i++)
        deep[i] = i % 2 ? '{' : 'a';
    fm_err err = {0};
    FM_CHECK(fm_ptxt_parse(deep, n, "deep", &err) == NULL && err.status == FM_ERR_LIMIT);
    free(deep);
}

/* Every prefix of a document parses or fails cleanly. */
static void test_prototxt_prefixes(void)
{
    const char *text = "name: \"n\" # c\nlayer { name: 'a\\x41' p < v: [1, -2.5e3, inf] > ; }\n"
                       "s: \"x\" 'y' t: 0x1f";
    size_t len = strlen(text);
    int ok = 0;
    for (size_t i = 0; i <= len; i++) {
        char *copy = malloc(i + 1);
        memcpy(copy, text, i); /* heap copy of exactly i bytes: ASan catches overreads */
        fm_err err = {0};
        fm_ptxt *doc = fm_ptxt_parse(copy, i, "p", &err);
        if (doc)
            ok++;
        else
            FM_CHECK_MSG(strncmp(err.msg, "p:", 2) == 0, "prefix %zu: %s", i, err.msg);
        fm_ptxt_free(doc);
        free(copy);
    }
    FM_CHECK(ok > 5);
}

static void count_types(const fm_ptxt *doc, const char *const *types, const int *counts, int n)
{
    const fm_ptxt_node *root = fm_ptxt_root(doc);
    int total = 0;
    for (int t = 0; t < n; t++) {
        int c = 0;
        for (const fm_ptxt_node *l = fm_ptxt_get(root, "layer"); l; l = fm_ptxt_next_named(l))
            if (strcmp(fm_ptxt_get_str(l, "type", ""), types[t]) == 0)
                c++;
        FM_CHECK_MSG(c == counts[t], "%s: %d layers, expected %d", types[t], c, counts[t]);
        total += c;
    }
    FM_CHECK_INT(fm_ptxt_count(root, "layer"), total);
}

static void test_prototxt_res10(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/res10/deploy.prototxt", fm_test_shared());
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_read(path, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    /* the counts `grep -o 'type: "[A-Za-z]*"'` gives for layer types */
    static const char *const types[] = {"BatchNorm", "Concat",  "Convolution", "DetectionOutput",
                                        "Eltwise",   "Flatten", "Normalize",   "Permute",
                                        "Pooling",   "PriorBox", "ReLU",       "Reshape",
                                        "Scale",     "Softmax"};
    static const int counts[] = {10, 3, 32, 1, 4, 13, 1, 12, 1, 6, 17, 1, 10, 1};
    count_types(doc, types, counts, 14);
    const fm_ptxt_node *root = fm_ptxt_root(doc);
    FM_CHECK_INT(fm_ptxt_count(root, "layer"), 112);
    FM_CHECK(strcmp(fm_ptxt_get_str(root, "input", ""), "data") == 0);
    const fm_ptxt_node *is = fm_ptxt_get(root, "input_shape");
    static const long long dims[] = {1, 3, 300, 300};
    int k = 0;
    for (const fm_ptxt_node *d = fm_ptxt_get(is, "dim"); d; d = fm_ptxt_next_named(d), k++) {
        long long v = 0;
        FM_CHECK(k < 4 && fm_ptxt_int(d, &v, &err) == FM_OK && v == dims[k]);
    }
    FM_CHECK_INT(k, 4);
    const fm_ptxt_node *det = NULL;
    for (const fm_ptxt_node *l = fm_ptxt_get(root, "layer"); l; l = fm_ptxt_next_named(l))
        if (strcmp(fm_ptxt_get_str(l, "type", ""), "DetectionOutput") == 0)
            det = l;
    const fm_ptxt_node *dp = fm_ptxt_get(det, "detection_output_param");
    double f = 0;
    long long i = 0;
    int b = 0;
    FM_CHECK(fm_ptxt_get_float(fm_ptxt_get(dp, "nms_param"), "nms_threshold", 0, &f, &err) ==
                 FM_OK &&
             f == 0.45);
    FM_CHECK(fm_ptxt_get_float(dp, "confidence_threshold", 0, &f, &err) == FM_OK && f == 0.01);
    FM_CHECK(fm_ptxt_get_int(dp, "keep_top_k", 0, &i, &err) == FM_OK && i == 200);
    FM_CHECK(fm_ptxt_get_bool(dp, "share_location", 0, &b, &err) == FM_OK && b == 1);
    FM_CHECK(strcmp(fm_ptxt_get_str(dp, "code_type", ""), "CENTER_SIZE") == 0);
    FM_CHECK(det && det->line == 1767);
    fm_ptxt_free(doc);
}

static void test_prototxt_mobilenet_v2(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/mobilenet_v2/mobilenet_v2.prototxt", fm_test_shared());
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_read(path, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    if (!doc)
        return;
    static const char *const types[] = {"Convolution", "Eltwise", "Pooling", "ReLU6", "Softmax"};
    static const int counts[] = {53, 10, 1, 35, 1};
    count_types(doc, types, counts, 5);
    FM_CHECK_INT(fm_ptxt_count(fm_ptxt_root(doc), "layer"), 100);
    FM_CHECK(strcmp(fm_ptxt_get_str(fm_ptxt_root(doc), "name", ""), "MobileNetV2") == 0);
    fm_ptxt_free(doc);
}

void suite_prototxt(void);
void suite_prototxt(void)
{
    FM_RUN(test_prototxt_nested_and_repeated);
    FM_RUN(test_prototxt_strings);
    FM_RUN(test_prototxt_syntax_variants);
    FM_RUN(test_prototxt_typed_reads);
    FM_RUN(test_prototxt_errors);
    FM_RUN(test_prototxt_depth_limit);
    FM_RUN(test_prototxt_prefixes);
    FM_RUN(test_prototxt_res10);
    FM_RUN(test_prototxt_mobilenet_v2);
}
