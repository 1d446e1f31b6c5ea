/* safetensors.h - reader (memory-mapped, header fully validated) and writer for .safetensors.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the data region. A corrupt, truncated or hostile file is an error, never a crash. */
#ifndef IMGAPI_ENGINE_IO_SAFETENSORS_H
#define IMGAPI_ENGINE_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

/* ST_Q8_0 to ST_Q6_K: GGUF's block types (ggml-common.h's layouts; Q8_0: 32 values, a half
 * scale d, then 32 int8 q, value q * d), in a GGUF file's tensors only, never a safetensors
 * file's; numel a multiple of the block's values (32, or 256 for the K quants). */
typedef enum {
    ST_F64 = 0, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_Q8_0, ST_Q4_0, ST_Q4_1, ST_Q5_0, ST_Q5_1, ST_Q2_K, ST_Q3_K, ST_Q4_K, ST_Q5_K, ST_Q6_K,
    ST_DTYPE_COUNT
} st_dtype_t;
/* 1 for the block types (ST_Q8_0 ... ST_Q6_K). */
#define ST_IS_BLOCK(t) ((t) >= ST_Q8_0 && (t) <= ST_Q6_K)

typedef struct {
    const char *name; /* owned by the file */
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* points into the mapping (may be unaligned) */
    size_t nbytes;
} st_tensor_t;

typedef struct st_file st_file_t;

/* Maps and validates a file. On failure returns IMG_EIO/IMG_EFORMAT/IMG_EUNSUPPORTED and a
 * one-line reason in err. Pickle checkpoints (.ckpt/.pt) are refused with advice to convert. */
int st_open(const char *path, st_file_t **out, char *err, size_t errlen);
/* Validates an in-memory image of a file (the buffer must outlive the result). */
int st_parse(const void *buf, size_t len, st_file_t **out, char *err, size_t errlen);
void st_close(st_file_t *f);

size_t st_count(const st_file_t *f);
const st_tensor_t *st_get(const st_file_t *f, size_t i); /* sorted by name */
const st_tensor_t *st_find(const st_file_t *f, const char *name);
/* Whether any tensor of f is in a GGUF block type (a quantized file). */
int st_has_blocks(const st_file_t *f);
/* A __metadata__ value, or NULL. */
const char *st_metadata(const st_file_t *f, const char *key);

size_t st_dtype_size(st_dtype_t t); /* bytes per value; 0 for the block types */
/* Bytes numel values of dtype take (0 for a block type when numel is no multiple of its block). */
size_t st_data_bytes(st_dtype_t t, int64_t numel);
const char *st_dtype_name(st_dtype_t t);
/* Converts a float, integer or block-type tensor to f32 (n must equal numel). */
int st_to_f32(const st_tensor_t *t, float *out, size_t n);
/* Load progress: st_release adds each released tensor's bytes to done and calls fn with
 * done / total (total: every tensor of the file). The caller owns the struct; it must outlive
 * the tracking (st_track(f, NULL) stops it). */
typedef struct {
    void (*fn)(void *user, double fraction);
    void *user;
    size_t done, total;
} st_progress_t;
void st_track(st_file_t *f, st_progress_t *p);
/* Tells the kernel that a mapped tensor's pages are no longer needed, so a model's file does not
 * stay resident beside the copies made from it (reading it again faults the pages back in). A
 * no-op for files parsed from a caller's buffer. */
void st_release(const st_file_t *f, const st_tensor_t *t);

/* An overlay: a view of base (which must outlive it) with the same tensors, some of which can be
 * replaced (st_overlay_replace); closed with st_close. Releasing a tensor that is not replaced
 * releases base's pages. Adapters (engine/lora) present a merged model this way, so that every
 * loader reads it as it reads a file. */
int st_overlay(const st_file_t *base, st_file_t **out);
/* Replaces tensor t (the overlay's or base's of the same name) by data of dtype, its shape
 * unchanged; the overlay owns data from here on (freed on failure too). IMG_EINVAL when f is no
 * overlay of a file holding t. */
int st_overlay_replace(st_file_t *f, const st_tensor_t *t, st_dtype_t dtype, void *data);

/* A composed file: tensors gathered from other files (which it keeps open and closes with
 * itself) and tensors it owns, under names of the caller's choosing (a diffusers folder seen in
 * the single-file layout). Every call frees what it was given on failure; finish frees c. */
typedef struct st_compose st_compose_t;
int st_compose_new(st_compose_t **out);
void st_compose_free(st_compose_t *c);
/* Keeps f open for as long as the composed file lives (takes ownership). */
int st_compose_keep(st_compose_t *c, st_file_t *f);
/* A tensor of dtype and shape whose data is borrowed (a kept file's) or owned (malloc'd). */
int st_compose_add(st_compose_t *c, const char *name, st_dtype_t dtype, int ndim, const int64_t *shape,
                   const void *borrowed, void *owned);
int st_compose_set_metadata(st_compose_t *c, const char *key, const char *value);
/* The composed file; IMG_EFORMAT when two tensors share a name, IMG_ENOMEM. */
int st_compose_finish(st_compose_t *c, st_file_t **out, char *err, size_t errlen);

/* Writer: collects tensors (data copied) and saves them in one file. */
typedef struct st_writer st_writer_t;
int st_writer_new(st_writer_t **out);
int st_writer_add(st_writer_t *w, const char *name, st_dtype_t dtype, int ndim,
                  const int64_t *shape, const void *data);
int st_writer_set_metadata(st_writer_t *w, const char *key, const char *value);
int st_writer_save(st_writer_t *w, const char *path);
void st_writer_free(st_writer_t *w);

#endif
