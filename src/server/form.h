/* form.h - a multipart/form-data body as it streams in (libmicrohttpd's MHD_PostProcessor
 * calls form_iterate with each piece of each part): text fields and files kept in memory under
 * the limits of SPEC §11, checked while reading, so an oversized part stops being kept at the
 * byte that passes its limit. */
#ifndef IMGAPI_SERVER_FORM_H
#define IMGAPI_SERVER_FORM_H
#include "common/buf.h"
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#define FORM_MAX_PARTS 48
#define FORM_MAX_FILE (50u * 1024u * 1024u) /* one file part */
#define FORM_MAX_TEXT (256u * 1024u)        /* one text field */

typedef struct {
    char name[64];
    int is_file;
    int started; /* a piece with data has arrived */
    buf_t data;  /* owned */
} form_part_t;

typedef struct form {
    form_part_t parts[FORM_MAX_PARTS];
    int n;
    /* the first problem seen, answered when the body has ended */
    int status;     /* 0, 400 or 413 */
    char field[64]; /* the part it concerns */
    char reason[160];
} form_t;

/* The MHD_PostDataIterator; cls is a form_t. Always MHD_YES (problems are recorded, and the rest
 * of the body is read and dropped). */
enum MHD_Result form_iterate(void *cls, enum MHD_ValueKind kind, const char *key,
                             const char *filename, const char *content_type,
                             const char *transfer_encoding, const char *data, uint64_t off,
                             size_t size);
/* Records a problem (the first one wins). */
void form_fail(form_t *f, int status, const char *field, const char *reason);
void form_free(form_t *f);
/* How many parts have this name. */
int form_count(const form_t *f, const char *name);

#endif
