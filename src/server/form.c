/* form.c - multipart/form-data parts under limits (see form.h). */
#include "server/form.h"
#include "common/text.h"
#include <stdio.h>
#include <string.h>

void form_fail(form_t *f, int status, const char *field, const char *reason) {
    if (f->status) return;
    f->status = status;
    text_utf8_copy(f->field, sizeof f->field, field ? field : "", field ? strlen(field) : 0);
    snprintf(f->reason, sizeof f->reason, "%s", reason);
}

enum MHD_Result form_iterate(void *cls, enum MHD_ValueKind kind, const char *key,
                             const char *filename, const char *content_type,
                             const char *transfer_encoding, const char *data, uint64_t off,
                             size_t size) {
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    form_t *f = cls;
    if (f->status || !key) return MHD_YES;
    form_part_t *p = f->n ? &f->parts[f->n - 1] : NULL;
    /* a new part starts at offset 0 (a repeated name, such as image[], starts another); MHD may
     * announce a part with an empty first piece, which the data then continues at offset 0 */
    int same = p && strcmp(p->name, key) == 0;
    if (!same || (off == 0 && (p->data.len > 0 || p->started))) {
        if (f->n == FORM_MAX_PARTS) {
            form_fail(f, 400, key, "The form has too many parts.");
            return MHD_YES;
        }
        if (strlen(key) >= sizeof p->name) {
            form_fail(f, 400, key, "A form field's name is too long.");
            return MHD_YES;
        }
        p = &f->parts[f->n++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", key);
        p->is_file = filename != NULL;
    }
    if (size) p->started = 1;
    size_t limit = p->is_file ? FORM_MAX_FILE : FORM_MAX_TEXT;
    if (p->data.len + size > limit) {
        form_fail(f, p->is_file ? 413 : 400, key,
                  p->is_file ? "The file is larger than 50 MB." : "The field is too long.");
        buf_free(&p->data);
        return MHD_YES;
    }
    if (size && buf_append(&p->data, data, size)) form_fail(f, 500, key, "Out of memory.");
    return MHD_YES;
}

void form_free(form_t *f) {
    for (int i = 0; i < f->n; i++)
        buf_free(&f->parts[i].data);
    f->n = 0;
}

int form_count(const form_t *f, const char *name) {
    int c = 0;
    for (int i = 0; i < f->n; i++)
        c += !strcmp(f->parts[i].name, name);
    return c;
}
