/* test_data_voc.c - the VOC XML reader: exact parses, every error, limits, every prefix of a
 * good file, a folder listing, and the real ../shared/data/mask_det annotations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/voc.h"
#include "test.h"

static const char GOOD[] =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding='utf-8'?>\n"
    "<!-- written by hand -->\n"
    "<!DOCTYPE annotation>\n"
    "<annotation verified=\"yes\">\n"
    "  <folder>images</folder>\n"
    "  <filename>  a&amp;b &#x41;&#66;.png </filename>\n"
    "  <size><width>100</width>\n"
    "        <height>80</height><depth>3</depth></size>\n"
    "  <segmented/>\n"
    "  <object>\n"
    "    <name>with_mask</name><pose>Unspecified</pose>\n"
    "    <truncated>0</truncated><difficult>1</difficult>\n"
    "    <bndbox><xmin>10</xmin><ymin> 20 </ymin>\n"
    "      <xmax>30.5</xmax>\t<ymax>40</ymax></bndbox>stray text\n"
    "  </object>\n"
    "  <object  id = '2' >\r\n"
    "    <name><![CDATA[without_mask]]></name>\r\n"
    "    <!-- <bndbox><xmin>999</xmin></bndbox> -->\r\n"
    "    <bndbox><ymax>80</ymax><xmax>100</xmax><ymin>0</ymin><xmin>0</xmin></bndbox>\r\n"
    "    <truncated>1</truncated>\r\n"
    "  </object>\n"
    "  <object><name>mask_weared_incorrect</name><occluded>1</occluded>\n"
    "    <bndbox><xmin>-5</xmin><ymin>70</ymin><xmax>120</xmax><ymax>81</ymax></bndbox>"
    "</object>\n"
    "</annotation>\n";

static void test_voc_exact_three_objects(void)
{
    fm_voc v;
    fm_err err = {0};
    FM_CHECK_INT(fm_voc_parse(GOOD, sizeof GOOD - 1, "good.xml", &v, &err), FM_OK);
    if (err.status != FM_OK) {
        FM_CHECK_MSG(0, "%s", err.msg);
        return;
    }
    FM_CHECK(strcmp(v.filename, "a&b AB.png") == 0);
    FM_CHECK_INT(v.width, 100);
    FM_CHECK_INT(v.height, 80);
    FM_CHECK_INT(v.depth, 3);
    FM_CHECK_INT(v.n_objects, 3);
    const fm_voc_object *o = v.objects;
    FM_CHECK(strcmp(o[0].name, "with_mask") == 0);
    FM_CHECK_NEAR(o[0].xmin, 10, 0);
    FM_CHECK_NEAR(o[0].ymin, 20, 0);
    FM_CHECK_NEAR(o[0].xmax, 30.5, 0);
    FM_CHECK_NEAR(o[0].ymax, 40, 0);
    FM_CHECK_INT(o[0].difficult, 1);
    FM_CHECK_INT(o[0].truncated, 0);
    FM_CHECK_INT(o[0].clamped, 0);
    FM_CHECK(strcmp(o[1].name, "without_mask") == 0);
    FM_CHECK_NEAR(o[1].xmin, 0, 0);
    FM_CHECK_NEAR(o[1].xmax, 100, 0);
    FM_CHECK_NEAR(o[1].ymax, 80, 0);
    FM_CHECK_INT(o[1].truncated, 1);
    FM_CHECK_INT(o[1].difficult, 0);
    FM_CHECK_INT(o[1].clamped, 0); /* xmax == width is inside: pixel edges */
    FM_CHECK(strcmp(o[2].name, "mask_weared_incorrect") == 0);
    FM_CHECK_INT(o[2].occluded, 1);
    FM_CHECK_INT(o[2].clamped, 1);
    FM_CHECK_NEAR(o[2].xmin, 0, 0);
    FM_CHECK_NEAR(o[2].xmax, 100, 0);
    FM_CHECK_NEAR(o[2].ymax, 80, 0);
    FM_CHECK_INT(fm_voc_label(o[0].name), FM_VOC_WITH_MASK);
    FM_CHECK_INT(fm_voc_label(o[1].name), FM_VOC_WITHOUT_MASK);
    FM_CHECK_INT(fm_voc_label(o[2].name), FM_VOC_INCORRECT);
    FM_CHECK_INT(fm_voc_label("With_Mask"), -1);
    fm_voc_free(&v);
}

static void test_voc_minimal_and_no_size(void)
{
    const char *x = "<annotation><object><name>a</name><bndbox><xmin>-3</xmin><ymin>1</ymin>"
                    "<xmax>5000</xmax><ymax>2</ymax></bndbox></object></annotation>";
    fm_voc v;
    fm_err err = {0};
    FM_CHECK_INT(fm_voc_parse(x, strlen(x), "m.xml", &v, &err), FM_OK);
    FM_CHECK_INT(v.width, 0);
    FM_CHECK_INT(v.n_objects, 1);
    if (v.n_objects == 1) { /* no size: nothing to clamp against */
        FM_CHECK_NEAR(v.objects[0].xmin, -3, 0);
        FM_CHECK_NEAR(v.objects[0].xmax, 5000, 0);
        FM_CHECK_INT(v.objects[0].clamped, 0);
    }
    fm_voc_free(&v);
    const char *e = "<annotation/>";
    FM_CHECK_INT(fm_voc_parse(e, strlen(e), "e.xml", &v, &err), FM_OK);
    FM_CHECK_INT(v.n_objects, 0);
    FM_CHECK(v.objects == NULL);
    fm_voc_free(&v);
}

static void expect_error(const char *xml, fm_status status, const char *needle)
{
    fm_voc v;
    fm_err err = {0};
    fm_status st = fm_voc_parse(xml, strlen(xml), "bad.xml", &v, &err);
    FM_CHECK_MSG(st == status, "status %s, expected %s (%s) for: %s", fm_status_str(st),
                 fm_status_str(status), err.msg, xml);
    FM_CHECK_STR_CONTAINS(err.msg, "bad.xml: ");
    FM_CHECK_STR_CONTAINS(err.msg, needle);
    FM_CHECK(v.objects == NULL && v.n_objects == 0);
}

#define OBJ(body) "<annotation><size><width>50</width><height>40</height></size>" body "</annotation>"
#define BOX(a, b, c, d) \
    "<bndbox><xmin>" a "</xmin><ymin>" b "</ymin><xmax>" c "</xmax><ymax>" d "</ymax></bndbox>"

static void test_voc_errors(void)
{
    expect_error("<annotation>\n<object>\n<name>a</name>\n", FM_ERR_PARSE,
                 "line 4: unclosed tag <object> (opened at line 2)");
    expect_error("<annotation><object></annotation>", FM_ERR_PARSE,
                 "end tag </annotation> does not match <object> (line 1)");
    expect_error(OBJ("<object><name>a</name></object>"), FM_ERR_FORMAT,
                 "<object> 1: <bndbox> is missing");
    expect_error(OBJ("<object><name>a</name>" BOX("1", "2", "3", "4") "</object>"
                     "<object><name>b</name><bndbox><xmin>1</xmin></bndbox></object>"),
                 FM_ERR_FORMAT, "<object> 2: <bndbox> <ymin> is missing");
    expect_error(OBJ("<object><name>a</name>" BOX("1", "2x", "3", "4") "</object>"), FM_ERR_FORMAT,
                 "<object> 1: <bndbox> <ymin>: '2x' is not a number");
    expect_error(OBJ("<object><name>a</name>" BOX("1", "", "3", "4") "</object>"), FM_ERR_FORMAT,
                 "<ymin>: '' is not a number");
    expect_error(OBJ("<object><name>a</name>" BOX("1e3", "2", "3", "4") "</object>"), FM_ERR_FORMAT,
                 "'1e3' is not a number");
    expect_error(OBJ("<object><name>a</name>" BOX("nan", "2", "3", "4") "</object>"), FM_ERR_FORMAT,
                 "'nan' is not a number");
    expect_error(OBJ("<object>" BOX("1", "2", "3", "4") "</object>"), FM_ERR_FORMAT,
                 "<object> 1: <name> is missing");
    expect_error(OBJ("<object><name>a</name><difficult>yes</difficult>" BOX("1", "2", "3", "4")
                     "</object>"),
                 FM_ERR_FORMAT, "<object> 1: <difficult>: 'yes' is not an integer");
    /* coordinates outside the image: clamped; a box left empty by that is an error */
    expect_error(OBJ("<object><name>a</name>" BOX("60", "2", "70", "4") "</object>"), FM_ERR_FORMAT,
                 "<object> 1: <bndbox> is empty (50, 2, 50, 4 after clamping to the image)");
    expect_error(OBJ("<object><name>a</name>" BOX("5", "2", "5", "4") "</object>"), FM_ERR_FORMAT,
                 "<bndbox> is empty (5, 2, 5, 4)");
    expect_error(OBJ("<object><name>a</name>" BOX("9", "2", "5", "4") "</object>"), FM_ERR_FORMAT,
                 "is empty");
    expect_error("<annotation><size><width>-4</width><height>3</height></size></annotation>",
                 FM_ERR_FORMAT, "<size> -4x3x0 is out of range");
    expect_error("<annotation><size><height>3</height></size></annotation>", FM_ERR_FORMAT,
                 "<size> <width> is missing");
    expect_error("<voc/>", FM_ERR_FORMAT, "root element is <voc>, expected <annotation>");
    expect_error("", FM_ERR_PARSE, "no root element");
    expect_error("  \n<!-- only -->  ", FM_ERR_PARSE, "no root element");
    expect_error("junk<annotation/>", FM_ERR_PARSE, "line 1: text outside the root element");
    expect_error("<annotation/><annotation/>", FM_ERR_PARSE, "a second root element");
    expect_error("<annotation></annotation>\n</x>", FM_ERR_PARSE,
                 "line 2: end tag </x> without a start tag");
    expect_error("<annotation><!-- open </annotation>", FM_ERR_PARSE, "unclosed comment");
    expect_error("<annotation><a b=c></a></annotation>", FM_ERR_PARSE, "attribute value not quoted");
    expect_error("<annotation><a b></a></annotation>", FM_ERR_PARSE, "attribute without '='");
    expect_error("<annotation><a b='c></a></annotation>", FM_ERR_PARSE,
                 "unterminated attribute value");
    expect_error("<annotation><a", FM_ERR_PARSE, "unclosed start tag");
    expect_error("<annotation>< a/></annotation>", FM_ERR_PARSE, "'<' not followed by a tag name");
    expect_error("<annotation><filename>a&nbsp;</filename></annotation>", FM_ERR_PARSE,
                 "<filename>: unknown entity '&nbsp;'");
    expect_error("<annotation><filename>a&amp</filename></annotation>", FM_ERR_PARSE,
                 "'&' without ';'");
    expect_error("<annotation><filename>&#0;</filename></annotation>", FM_ERR_PARSE,
                 "bad character reference '&#0;'");
    expect_error("<annotation><filename>&#x110000;</filename></annotation>", FM_ERR_PARSE,
                 "bad character reference");
    expect_error("<annotation><filename><b>x</b></filename></annotation>", FM_ERR_FORMAT,
                 "<filename>: expected text, found child elements");
    expect_error("<!DOCTYPE a [<!ENTITY x 'y'>]><annotation/>", FM_ERR_UNSUPPORTED,
                 "DOCTYPE with an internal subset");
    expect_error("<?xml version='1.0'<annotation/>", FM_ERR_PARSE, "unterminated processing");
    expect_error("<annotation><![CDATA[x</annotation>", FM_ERR_PARSE, "unclosed CDATA section");
    expect_error("<annotation><!ELEMENT x></annotation>", FM_ERR_PARSE, "unknown markup '<!'");
    /* a name longer than FM_VOC_MAX_TEXT */
    char big[600];
    int k = snprintf(big, sizeof big, "<annotation><filename>");
    for (int i = 0; i < 300; i++)
        big[k++] = 'x';
    snprintf(big + k, sizeof big - (size_t)k, "</filename></annotation>");
    expect_error(big, FM_ERR_LIMIT, "<filename>: text longer than 255 bytes");
}

static void test_voc_limits(void)
{
    /* nesting deeper than FM_VOC_MAX_DEPTH */
    char deep[1024];
    size_t k = 0;
    for (int i = 0; i < FM_VOC_MAX_DEPTH + 1; i++)
        k += (size_t)snprintf(deep + k, sizeof deep - k, "<a>");
    expect_error(deep, FM_ERR_LIMIT, "elements nested deeper than 32");
    /* a buffer over FM_VOC_MAX_BYTES is refused before it is read */
    const size_t n = (size_t)FM_VOC_MAX_BYTES + 1;
    char *huge = malloc(n);
    FM_CHECK(huge != NULL);
    if (!huge)
        return;
    memset(huge, ' ', n);
    fm_voc v;
    fm_err err = {0};
    FM_CHECK_INT(fm_voc_parse(huge, n, "huge.xml", &v, &err), FM_ERR_LIMIT);
    FM_CHECK_STR_CONTAINS(err.msg, "huge.xml: 1048577 bytes, more than the 1048576-byte limit");
    /* and a file of that size through fm_voc_load */
    char path[600];
    snprintf(path, sizeof path, "%s/huge.xml", fm_test_tmpdir());
    FILE *f = fopen(path, "wb");
    FM_CHECK(f != NULL);
    if (f) {
        fwrite(huge, 1, n, f);
        fclose(f);
        FM_CHECK_INT(fm_voc_load(path, &v, &err), FM_ERR_LIMIT);
        FM_CHECK_STR_CONTAINS(err.msg, "huge.xml: larger than the 1048576-byte limit");
    }
    free(huge);
    /* many objects, each small: fine up to FM_VOC_MAX_OBJECTS */
    const char *obj = "<object><name>a</name>" BOX("1", "1", "2", "2") "</object>";
    const size_t per = strlen(obj), cnt = 1000;
    char *many = malloc(per * cnt + 64);
    FM_CHECK(many != NULL);
    if (!many)
        return;
    size_t m = (size_t)sprintf(many, "<annotation>");
    for (size_t i = 0; i < cnt; i++, m += per)
        memcpy(many + m, obj, per);
    m += (size_t)sprintf(many + m, "</annotation>");
    FM_CHECK_INT(fm_voc_parse(many, m, "many.xml", &v, &err), FM_OK);
    FM_CHECK_INT(v.n_objects, 1000);
    fm_voc_free(&v);
    free(many);
    FM_CHECK_INT(fm_voc_load("/nonexistent/x.xml", &v, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.xml: cannot open");
}

/* Every prefix of a good file, and every single-byte corruption of it, is either parsed or
 * refused with a message - never a crash (this is what the ASan build checks). */
static void test_voc_prefixes_and_corruptions(void)
{
    const size_t n = sizeof GOOD - 1;
    char *buf = malloc(n);
    FM_CHECK(buf != NULL);
    if (!buf)
        return;
    int ok = 0;
    for (size_t len = 0; len < n; len++) {
        memcpy(buf, GOOD, len); /* exactly len bytes: no terminator to lean on */
        fm_voc v;
        fm_err err = {0};
        fm_status st = fm_voc_parse(buf, len, "p.xml", &v, &err);
        if (st == FM_OK) {
            ok++;
            fm_voc_free(&v);
        } else {
            FM_CHECK(strncmp(err.msg, "p.xml: ", 7) == 0);
        }
    }
    FM_CHECK_INT(ok, 1); /* only the file without its final newline */
    static const char subst[] = {'<', '>', '&', '/', '"', '\'', '\0', 'x', '-', '['};
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < sizeof subst; s++) {
            memcpy(buf, GOOD, n);
            buf[i] = subst[s];
            fm_voc v;
            fm_err err = {0};
            if (fm_voc_parse(buf, n, "c.xml", &v, &err) == FM_OK)
                fm_voc_free(&v);
            else
                FM_CHECK(strncmp(err.msg, "c.xml: ", 7) == 0);
        }
    }
    free(buf);
}

static void touch(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    FM_CHECK_MSG(f != NULL, "cannot create %s", p);
    if (f)
        fclose(f);
}

static void test_voc_list_folder(void)
{
    char root[600], im[700], an[700];
    snprintf(root, sizeof root, "%s/voc", fm_test_tmpdir());
    snprintf(im, sizeof im, "%s/images", root);
    snprintf(an, sizeof an, "%s/annotations", root);
    mkdir(root, 0755);
    mkdir(im, 0755);
    mkdir(an, 0755);
    touch(im, "b10.jpg");
    touch(im, "b2.JPG");
    touch(im, "a.png");
    touch(im, "lonely.jpeg");
    touch(im, ".hidden.jpg");
    touch(im, "notes.txt");
    touch(an, "b10.xml");
    touch(an, "b2.XML");
    touch(an, "a.xml");
    touch(an, "orphan.xml");
    fm_voc_dir d;
    fm_err err = {0};
    FM_CHECK_INT(fm_voc_list(root, &d, &err), FM_OK);
    FM_CHECK_INT(d.n, 3);
    FM_CHECK_INT(d.images_without_xml, 1);
    FM_CHECK_INT(d.xml_without_image, 1);
    if (d.n == 3) {
        FM_CHECK(strcmp(d.items[0].stem, "a") == 0);
        FM_CHECK(strcmp(d.items[1].stem, "b10") == 0); /* byte order: "b10" < "b2" */
        FM_CHECK(strcmp(d.items[2].stem, "b2") == 0);
        FM_CHECK_STR_CONTAINS(d.items[2].image, "/voc/images/b2.JPG");
        FM_CHECK_STR_CONTAINS(d.items[2].xml, "/voc/annotations/b2.XML");
    }
    fm_voc_dir_free(&d);
    touch(im, "a.jpg");
    FM_CHECK_INT(fm_voc_list(root, &d, &err), FM_ERR_FORMAT);
    FM_CHECK_STR_CONTAINS(err.msg, "two images with the stem 'a'");
    FM_CHECK_INT(d.n, 0);
    FM_CHECK_INT(fm_voc_list("/nonexistent", &d, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/images: cannot open folder");
}

/* The shared detection set: every annotation parses; the label counts are the README's. */
static void test_voc_mask_det_counts(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/mask_det", fm_test_shared());
    fm_voc_dir d;
    fm_err err = {0};
    FM_CHECK_INT(fm_voc_list(dir, &d, &err), FM_OK);
    if (err.status != FM_OK) {
        FM_CHECK_MSG(0, "%s", err.msg);
        return;
    }
    FM_CHECK_INT(d.n, 426);
    FM_CHECK_INT(d.images_without_xml, 0);
    FM_CHECK_INT(d.xml_without_image, 0);
    int count[3] = {0, 0, 0}, other = 0, clamped = 0, difficult = 0, truncated = 0;
    /* widths by label: < 16, 16..31, 32..64, > 64 pixels (xmax - xmin) */
    int bins[3][4] = {{0}};
    for (int i = 0; i < d.n; i++) {
        fm_voc v;
        if (fm_voc_load(d.items[i].xml, &v, &err) != FM_OK) {
            FM_CHECK_MSG(0, "%s", err.msg);
            continue;
        }
        FM_CHECK(v.width > 0 && v.height > 0);
        for (int k = 0; k < v.n_objects; k++) {
            const fm_voc_object *o = &v.objects[k];
            const int l = fm_voc_label(o->name);
            if (l < 0) {
                other++;
                continue;
            }
            count[l]++;
            clamped += o->clamped;
            difficult += o->difficult;
            truncated += o->truncated;
            const float w = o->xmax - o->xmin;
            bins[l][w < 16 ? 0 : w < 32 ? 1 : w <= 64 ? 2 : 3]++;
        }
        fm_voc_free(&v);
    }
    fm_voc_dir_free(&d);
    FM_CHECK_INT(count[FM_VOC_WITH_MASK], 1611);
    FM_CHECK_INT(count[FM_VOC_WITHOUT_MASK], 299);
    FM_CHECK_INT(count[FM_VOC_INCORRECT], 64);
    FM_CHECK_INT(other, 0);
    FM_CHECK_INT(clamped, 3); /* three boxes have xmax = 401 in a 400-wide image */
    FM_CHECK_INT(difficult, 0);
    FM_CHECK_INT(truncated, 0);
    static const int expect[3][4] = {{437, 650, 353, 171}, {111, 115, 45, 28}, {12, 19, 25, 8}};
    for (int l = 0; l < 3; l++)
        for (int b = 0; b < 4; b++)
            FM_CHECK_MSG(bins[l][b] == expect[l][b], "%s width bin %d: %d, expected %d",
                         fm_voc_label_name(l), b, bins[l][b], expect[l][b]);
    if (getenv("FM_DATA_STATS"))
        for (int l = 0; l < 3; l++)
            printf("  %-22s width <16: %4d  16-31: %4d  32-64: %4d  >64: %4d\n",
                   fm_voc_label_name(l), bins[l][0], bins[l][1], bins[l][2], bins[l][3]);
}

void suite_data_voc(void);
void suite_data_voc(void)
{
    FM_RUN(test_voc_exact_three_objects);
    FM_RUN(test_voc_minimal_and_no_size);
    FM_RUN(test_voc_errors);
    FM_RUN(test_voc_limits);
    FM_RUN(test_voc_prefixes_and_corruptions);
    FM_RUN(test_voc_list_folder);
    FM_RUN(test_voc_mask_det_counts);
}
