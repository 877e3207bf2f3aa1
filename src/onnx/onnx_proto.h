/* onnx_proto.h - an .onnx file (a protobuf ModelProto) read into plain C structs.
 *
 * This is the reading step only: it checks the file and hands back the model's
 * opset, nodes (in file order, which ONNX requires to be topological),
 * initializers (weights converted to float / int64), and the graph's inputs
 * and outputs. Turning that into an engine graph is a separate step.
 *
 *     fm_err err = {0};
 *     fm_onnx_model *m = fm_onnx_read("yunet.onnx", &err);
 *     if (!m) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     printf("opset %lld, %d nodes\n", (long long)m->opset, m->graph.nnodes);
 *     for (int i = 0; i < m->graph.nnodes; i++) {
 *         const fm_onnx_node *n = &m->graph.nodes[i];
 *         if (strcmp(n->op_type, "Conv") != 0) continue;
 *         const fm_onnx_tensor *w = fm_onnx_initializer(m, n->inputs[1]); // NULL: not a weight
 *         const fm_onnx_attr *pads = fm_onnx_node_attr(n, "pads");          // NULL: absent
 *         if (pads && pads->type == FM_ONNX_ATTR_INTS) { ... pads->ints[0 .. pads->nints) ... }
 *         // w->dims[0 .. w->ndims), w->f[0 .. w->count) when w->data_type == FM_ONNX_DT_FLOAT
 *     }
 *     fm_onnx_free(m);
 *
 * Ownership: everything reachable from an fm_onnx_model (strings, arrays,
 * tensors) belongs to it and lives in one arena that fm_onnx_free releases at
 * once; nothing points into the caller's input buffer, which may be freed as
 * soon as fm_onnx_parse returns. Do not free or modify the pieces.
 *
 * Strings: every name is a NUL-terminated copy; an absent string field reads as
 * "" (never NULL). A name (of a node, op_type, domain, value, attribute, tensor,
 * graph, producer, opset domain) holding a NUL byte is an error. String
 * attribute values are bytes (fm_onnx_str: length plus a terminating NUL, may
 * hold NULs).
 *
 * Errors: NULL and err->msg like
 *     model.onnx: byte 1234: node 'Conv_3' (Conv): attribute 'pads': field 8 (ints) has
 *         wire type 64-bit, expected varint or length-delimited (packed)
 *     model.onnx: truncated at byte 1234: length-delimited field 5 needs 800 bytes, 12 remain
 *         (in initializer '329')
 * with err->status FM_ERR_PARSE (malformed protobuf), FM_ERR_FORMAT (well-formed
 * but not a valid model: a known field with the wrong wire type, a negative dim,
 * dims whose product overflows, a NUL in a name, a required field missing,
 * duplicate initializer names, data in a field its data_type does not use),
 * FM_ERR_SHAPE (element count != product of dims), FM_ERR_LIMIT (one of the caps
 * below), FM_ERR_UNSUPPORTED (external data, segments, sparse initializers, two
 * graph fields), FM_ERR_NOMEM, FM_ERR_ARG (NULL buffer), FM_ERR_IO (fm_onnx_read).
 * With err == NULL the result is the same, without a message.
 *
 * Required: a graph (ModelProto field 7) and at least one opset_import; each
 * node needs an op_type; each attribute, initializer, graph input and graph
 * output a name. Unknown fields are skipped, as protobuf intends; known fields
 * with the wrong wire type are errors. Attribute types GRAPH, GRAPHS, TENSORS,
 * SPARSE_TENSOR(S), TYPE_PROTO(S) are recorded with their type, their values
 * skipped.
 *
 * Tensors: FLOAT data (raw_data little-endian, or float_data packed or not)
 * becomes `f`; INT64 (raw_data or int64_data) and INT32 (raw_data or int32_data,
 * widened) become `i64`. For those three types the number of values must equal
 * the product of the dims (1 for a scalar, ndims == 0), and a tensor holding
 * more than one of raw_data / float_data / int32_data / int64_data is an error.
 * Other data types are recorded (data_type, dims, count) with no data.
 * External data (data_location EXTERNAL or external_data entries) is an error:
 * the model must be one self-contained .onnx file.
 *
 * Hostile input is expected: every length is checked against the bytes that
 * remain, counts are taken before arrays are allocated, sizes are overflow
 * checked, each byte is examined a bounded number of times, and memory stays
 * within FM_ONNX_MEM_FACTOR x file size + FM_ONNX_MEM_SLACK (see below).
 */
#ifndef FM_ONNX_PROTO_H
#define FM_ONNX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- caps (each exceeded cap is FM_ERR_LIMIT naming the cap) ---- */
#define FM_ONNX_MAX_BYTES (1u << 30)   /* file size, for fm_onnx_read */
#define FM_ONNX_MAX_NODES 100000       /* nodes in the graph */
#define FM_ONNX_MAX_INITIALIZERS 100000 /* initializers in the graph */
#define FM_ONNX_MAX_VALUES 100000      /* graph inputs, and separately graph outputs */
#define FM_ONNX_MAX_OPSETS 1024        /* opset_import entries */
#define FM_ONNX_MAX_NODE_IO 1024       /* inputs, and separately outputs, of one node */
#define FM_ONNX_MAX_ATTRS 1024         /* attributes of one node */
#define FM_ONNX_MAX_DIMS 8             /* dims of a tensor or of a graph input/output */
/* Memory bound: all that a model holds (fm_onnx_model_bytes) is at most
 * FM_ONNX_MEM_FACTOR * file bytes + FM_ONNX_MEM_SLACK; a file that would need
 * more (e.g. 99,999 empty initializers: 2 input bytes, a 112-byte struct each)
 * is refused with FM_ERR_LIMIT. The YuNet files need under 1.5x (weights dominate;
 * the arena grows in 64 KiB chunks). */
#define FM_ONNX_MEM_FACTOR 16
#define FM_ONNX_MEM_SLACK ((size_t)4 << 20)

/* TensorProto.DataType (recorded as stored; these are the values ONNX defines). */
enum {
    FM_ONNX_DT_UNDEFINED = 0,
    FM_ONNX_DT_FLOAT = 1,   /* -> fm_onnx_tensor.f */
    FM_ONNX_DT_UINT8 = 2,
    FM_ONNX_DT_INT8 = 3,
    FM_ONNX_DT_UINT16 = 4,
    FM_ONNX_DT_INT16 = 5,
    FM_ONNX_DT_INT32 = 6,   /* -> fm_onnx_tensor.i64 (widened) */
    FM_ONNX_DT_INT64 = 7,   /* -> fm_onnx_tensor.i64 */
    FM_ONNX_DT_STRING = 8,
    FM_ONNX_DT_BOOL = 9,
    FM_ONNX_DT_FLOAT16 = 10,
    FM_ONNX_DT_DOUBLE = 11,
    FM_ONNX_DT_UINT32 = 12,
    FM_ONNX_DT_UINT64 = 13,
    FM_ONNX_DT_COMPLEX64 = 14,
    FM_ONNX_DT_COMPLEX128 = 15,
    FM_ONNX_DT_BFLOAT16 = 16
};

/* AttributeProto.AttributeType. */
enum {
    FM_ONNX_ATTR_UNDEFINED = 0,
    FM_ONNX_ATTR_FLOAT = 1,   /* -> f */
    FM_ONNX_ATTR_INT = 2,     /* -> i */
    FM_ONNX_ATTR_STRING = 3,  /* -> s */
    FM_ONNX_ATTR_TENSOR = 4,  /* -> t */
    FM_ONNX_ATTR_GRAPH = 5,   /* skipped */
    FM_ONNX_ATTR_FLOATS = 6,  /* -> floats, nfloats */
    FM_ONNX_ATTR_INTS = 7,    /* -> ints, nints */
    FM_ONNX_ATTR_STRINGS = 8, /* -> strings, nstrings */
    FM_ONNX_ATTR_TENSORS = 9, /* skipped */
    FM_ONNX_ATTR_GRAPHS = 10, /* skipped */
    FM_ONNX_ATTR_SPARSE_TENSOR = 11,
    FM_ONNX_ATTR_SPARSE_TENSORS = 12,
    FM_ONNX_ATTR_TYPE_PROTO = 13,
    FM_ONNX_ATTR_TYPE_PROTOS = 14
};

/* Bytes with a length; s[len] is a NUL (so text can be used as a C string). */
typedef struct {
    const char *s;
    size_t len;
} fm_onnx_str;

typedef struct {
    const char *name;                /* "" for an unnamed tensor (attribute values only) */
    int data_type;                   /* FM_ONNX_DT_*, any stored value */
    int ndims;                       /* 0 .. FM_ONNX_MAX_DIMS; 0 is a scalar */
    int64_t dims[FM_ONNX_MAX_DIMS];  /* each >= 0 */
    size_t count;                    /* elements: product of dims (1 for a scalar) */
    const float *f;     /* FLOAT: count values; else NULL (also NULL when count == 0) */
    const int64_t *i64; /* INT64, INT32: count values; else NULL (also when count == 0) */
    size_t offset;      /* byte offset of the TensorProto in the file */
} fm_onnx_tensor;

typedef struct {
    const char *name;
    int type;           /* FM_ONNX_ATTR_*, any stored value; inferred from the value field
                           present when the file leaves it UNDEFINED (IR version 1) */
    float f;            /* FLOAT (0 when absent) */
    int64_t i;          /* INT (0 when absent) */
    fm_onnx_str s;      /* STRING ({"", 0} when absent) */
    const fm_onnx_tensor *t; /* TENSOR (NULL when absent) */
    const float *floats;     /* FLOATS: nfloats values (NULL when none) */
    size_t nfloats;
    const int64_t *ints;     /* INTS: nints values (NULL when none) */
    size_t nints;
    const fm_onnx_str *strings; /* STRINGS: nstrings entries (NULL when none) */
    size_t nstrings;
    size_t offset;      /* byte offset of the AttributeProto in the file */
} fm_onnx_attr;

typedef struct {
    const char *name;    /* "" when absent (ONNX allows unnamed nodes) */
    const char *op_type; /* never empty */
    const char *domain;  /* "" (or "ai.onnx") is the default ONNX domain */
    const char **inputs; /* ninputs names; "" marks an absent optional input */
    int ninputs;
    const char **outputs; /* noutputs names; "" marks an unused optional output */
    int noutputs;
    const fm_onnx_attr *attrs; /* nattrs attributes in file order */
    int nattrs;
    size_t offset;       /* byte offset of the NodeProto in the file */
} fm_onnx_node;

/* A graph input or output (ValueInfoProto with a tensor type). */
typedef struct {
    const char *name;
    int elem_type;  /* FM_ONNX_DT_*; 0 when the type is absent or not a tensor type */
    int has_shape;  /* 0: no shape given (rank unknown); 1: ndims and dims hold it */
    int ndims;      /* 0 .. FM_ONNX_MAX_DIMS */
    int64_t dims[FM_ONNX_MAX_DIMS]; /* >= 0, or -1 for a symbolic (dim_param) or unknown dim */
    size_t offset;  /* byte offset of the ValueInfoProto in the file */
} fm_onnx_value;

typedef struct {
    const char *name;
    const fm_onnx_node *nodes; /* nnodes nodes in file (topological) order */
    int nnodes;
    const fm_onnx_tensor *initializers; /* file order; names are distinct and non-empty */
    int ninitializers;
    const fm_onnx_value *inputs; /* may include initializers (IR version < 4 files) */
    int ninputs;
    const fm_onnx_value *outputs;
    int noutputs;
} fm_onnx_graph;

typedef struct {
    const char *domain; /* "" for the default ONNX domain */
    int64_t version;
} fm_onnx_opset;

struct fm_onnx_priv; /* internal: the arena and the initializer index */

typedef struct {
    int64_t ir_version;   /* 0 when absent */
    const char *producer_name;
    const char *producer_version;
    const fm_onnx_opset *opsets; /* nopsets >= 1 entries, file order */
    int nopsets;
    /* The version of the default domain ("" or "ai.onnx"); the highest when imported more
     * than once (ONNX binds to the highest); 0 when the model imports only other domains. */
    int64_t opset;
    fm_onnx_graph graph;
    struct fm_onnx_priv *priv;
} fm_onnx_model;

/* Parses len bytes of a ModelProto. `name_for_messages` starts every error message
 * (a path; NULL reads as "onnx"). The buffer is not kept. */
fm_onnx_model *fm_onnx_parse(const uint8_t *buf, size_t len, const char *name_for_messages,
                             fm_err *err);
/* Reads and parses the file `path` (at most FM_ONNX_MAX_BYTES bytes). */
fm_onnx_model *fm_onnx_read(const char *path, fm_err *err);
/* Frees the model and everything it holds; NULL is a no-op. */
void fm_onnx_free(fm_onnx_model *m);

/* The initializer called `name`, or NULL (also for NULL arguments). O(log n). */
const fm_onnx_tensor *fm_onnx_initializer(const fm_onnx_model *m, const char *name);
/* The node's first attribute called `name`, or NULL. O(nattrs). */
const fm_onnx_attr *fm_onnx_node_attr(const fm_onnx_node *n, const char *name);

/* Heap bytes the model holds (its arena and bookkeeping), for the memory bound. */
size_t fm_onnx_model_bytes(const fm_onnx_model *m);

/* "FLOAT", "INT64", ...; "?" for values ONNX does not define. */
const char *fm_onnx_dtype_name(int data_type);
/* "FLOAT", "INTS", "TENSOR", ...; "?" for values ONNX does not define. */
const char *fm_onnx_attr_type_name(int type);

#endif
