/* write.h - saving an ONNX model with new weights, in the layout it came in.
 *
 * A fine-tuned model keeps its graph: the writer re-encodes the original file's ModelProto
 * and replaces only the data of the initializers it is given, so nodes, names, attributes,
 * opsets, graph inputs and outputs and any metadata stay byte for byte as they were (another
 * tool, e.g. OpenCV's cv2.dnn.readNet, sees the same model with other numbers):
 *
 *     // net was built from src.onnx (fm_onnx_load_net) and trained; its layers hold the
 *     // new weights (fm_tnet_write_back puts them there)
 *     fm_err err = {0};
 *     if (fm_onnx_save_net("yunet_n_640_640.onnx", net, "out/detector.onnx", 0, &err) != FM_OK)
 *         fprintf(stderr, "facemask: %s\n", err.msg);
 *
 * Each updated initializer is written as raw_data (little-endian float32) where its data
 * field stood; every other field of it (dims, data_type, name) is kept. A model that is not
 * changed is written back byte-identical when its weights were raw_data (as PyTorch writes
 * them). The result is parsed again before it is returned, and each updated initializer is
 * checked to read back bit for bit.
 *
 * Files are written safely (core/file.h fm_write_file): a temporary file beside the target,
 * fsync, then put in place; an existing file is replaced only when the caller says so.
 */
#ifndef FM_ONNX_WRITE_H
#define FM_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/net.h"
#include "onnx/onnx_proto.h"

/* New values for one initializer of the source model. */
typedef struct {
    const char *name;  /* an initializer of the source model, of type FLOAT */
    const float *data; /* count finite floats, in the initializer's own layout */
    size_t count;      /* must equal the initializer's element count */
} fm_onnx_update;

/* Re-encodes the ModelProto src[0, len) with the data of the nu initializers in u replaced.
 * src_name names the source in messages. *out (malloc'd, the caller frees it) gets the new
 * file of *out_len bytes. Errors (NULL *out): the source does not parse (the reader's
 * message), an update names no FLOAT initializer, names one twice, has the wrong count or a
 * value that is not finite (FM_ERR_ARG, naming the initializer and the index), out of memory. */
fm_status fm_onnx_rewrite(const uint8_t *src, size_t len, const char *src_name,
                          const fm_onnx_update *u, int nu, uint8_t **out, size_t *out_len,
                          fm_err *err);

/* The updates that carry a net's convolution weights into the ONNX model it was imported
 * from: the k-th Conv node of m pairs with the k-th convolution layer of net (layers as run),
 * checked by name, weight count and bias count. Weights go to the node's input 1, biases to
 * its input 2; a Conv without a bias input takes none, and is refused if the net's bias for
 * it is not all zero (the file has nowhere to keep it). *u (malloc'd; the names and data point
 * into m and net, valid while both live) gets *nu entries. Errors (FM_ERR_ARG) name the node:
 * the net was not built from this model, or was built with folding that merges convolutions
 * (fuse_pw_dw) or with release_weights. */
fm_status fm_onnx_net_updates(const fm_onnx_model *m, fm_net *net, fm_onnx_update **u,
                              int *nu, fm_err *err);

/* Reads src_path, takes net's convolution weights (fm_onnx_net_updates), re-encodes
 * (fm_onnx_rewrite) and writes out_path safely; out_path is replaced only when overwrite is
 * non-zero ("PATH: already exists (not overwritten)" otherwise). out_path naming the same
 * file as src_path is refused. */
fm_status fm_onnx_save_net(const char *src_path, fm_net *net, const char *out_path,
                           int overwrite, fm_err *err);

#endif
