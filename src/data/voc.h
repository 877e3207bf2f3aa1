/* voc.h - PASCAL VOC annotations: one XML file per image, and a folder of them.
 *
 *     fm_voc v;
 *     if (fm_voc_load("annotations/a.xml", &v, &err) != FM_OK) { puts(err.msg); ... }
 *     for (int i = 0; i < v.n_objects; i++)
 *         printf("%s %g %g %g %g\n", v.objects[i].name, v.objects[i].xmin, ...);
 *     fm_voc_free(&v);
 *
 * The XML reader is our own, small and bounded (libxml2 would be a large dependency for a
 * dozen fixed fields and brings entity expansion we would have to turn off). It accepts
 * well-formed XML 1.0 as VOC tools write it: a prolog (<?xml ...?>), comments, a DOCTYPE
 * without an internal subset, attributes ('...' or "..."), self-closing tags, CDATA, the five
 * named entities and numeric character references; text between child elements (as in
 * mask_det's stray "file:/..." lines) is ignored. Limits: FM_VOC_MAX_BYTES per file,
 * FM_VOC_MAX_DEPTH nesting, FM_VOC_MAX_ELEMENTS elements, FM_VOC_MAX_OBJECTS objects,
 * FM_VOC_MAX_TEXT bytes per text field. Messages name the source and the line or the element:
 *   "a.xml: line 7: unclosed tag <object> (opened at line 3)"
 *   "a.xml: <object> 2: <bndbox> <xmin>: 'abc' is not a number"
 *
 * Fields: <annotation> must be the root. <filename> and <size> (<width>, <height>, <depth>)
 * are optional (empty / 0 when absent). Each <object> needs <name> and <bndbox> with <xmin>
 * <ymin> <xmax> <ymax> (decimal numbers, a fraction allowed); <difficult>, <truncated> and
 * <occluded> are optional integers (0 when absent). Unknown elements are ignored.
 * Coordinates are pixel edges, the box covering xmin <= x < xmax (mask_det's xmax reaches the
 * image width, so these are not VOC's 1-based inclusive pixels). Coordinates outside
 * [0, width] x [0, height] are CLAMPED to it when the size is known (and the object is marked
 * `clamped`); a box that is then empty (xmax <= xmin or ymax <= ymin, also a box wholly
 * outside) is an error.
 */
#ifndef FM_VOC_H
#define FM_VOC_H

#include <stddef.h>

#include "core/err.h"

#define FM_VOC_MAX_BYTES (1u << 20)
#define FM_VOC_MAX_DEPTH 32
#define FM_VOC_MAX_ELEMENTS 200000
#define FM_VOC_MAX_OBJECTS 10000
#define FM_VOC_MAX_TEXT 255

typedef struct {
    char name[FM_VOC_MAX_TEXT + 1]; /* label as written, e.g. "with_mask" */
    float xmin, ymin, xmax, ymax;   /* pixel edges, after clamping */
    int difficult, truncated, occluded;
    int clamped; /* 1 when a coordinate lay outside the image and was clamped */
} fm_voc_object;

typedef struct {
    char filename[FM_VOC_MAX_TEXT + 1];
    int width, height, depth; /* 0 when absent */
    int n_objects;
    fm_voc_object *objects; /* malloc'd; fm_voc_free releases */
} fm_voc;

/* Parses len bytes of XML (need not be NUL-terminated); source names it in messages.
 * On error *out is left empty (nothing to free). */
fm_status fm_voc_parse(const char *xml, size_t len, const char *source, fm_voc *out, fm_err *err);
/* Reads and parses a file (FM_ERR_LIMIT above FM_VOC_MAX_BYTES). */
fm_status fm_voc_load(const char *path, fm_voc *out, fm_err *err);
void fm_voc_free(fm_voc *v);

/* The mask labels: FM_VOC_WITH_MASK "with_mask", FM_VOC_WITHOUT_MASK "without_mask",
 * FM_VOC_INCORRECT "mask_weared_incorrect"; -1 for any other name. */
enum { FM_VOC_WITH_MASK = 0, FM_VOC_WITHOUT_MASK = 1, FM_VOC_INCORRECT = 2 };
int fm_voc_label(const char *name);
const char *fm_voc_label_name(int label);

/* A VOC folder: <dir>/images/<stem>.{jpg,jpeg,png} (any case) paired with
 * <dir>/annotations/<stem>.xml (any case), sorted by stem (byte order); names starting with
 * '.' are skipped. Files without a partner are counted, not listed. Two images with the same
 * stem are an error. Listed with fm_walk (core/walk.h): only regular files, each once; the
 * entries it skips (a FIFO named as an image, a link to a file already listed) are counted
 * in `skipped`. */
typedef struct {
    char *stem, *image, *xml; /* malloc'd paths "<dir>/images/...", "<dir>/annotations/..." */
} fm_voc_item;

typedef struct {
    int n;
    fm_voc_item *items;
    int images_without_xml, xml_without_image;
    int skipped; /* entries fm_walk skipped (not regular files, repeats) */
} fm_voc_dir;

fm_status fm_voc_list(const char *dir, fm_voc_dir *out, fm_err *err);
void fm_voc_dir_free(fm_voc_dir *d);

#endif
