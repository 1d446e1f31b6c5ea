/* flux2_prompt.c - FLUX.2 [klein]'s prompt template and padding (flux2_prompt.h). */
#include "engine/models/flux2/flux2_prompt.h"
#include "common/buf.h"
#include "common/status.h"
#include <stdlib.h>
#include <string.h>

int flux2_prompt_tokens(const bbpe_t *t, const char *prompt, int len, int32_t *ids, int32_t *mask,
                        int *used, int *total) {
    int32_t pad = bbpe_id(t, "<|endoftext|>");
    if (pad < 0 || bbpe_id(t, "<|im_start|>") < 0 || bbpe_id(t, "<|im_end|>") < 0)
        return IMG_EFORMAT;
    buf_t text = {0}; /* the chat text; freed here */
    int rc = buf_printf(
        &text, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
        prompt);
    int32_t *all = NULL; /* freed here */
    size_t n = 0;
    if (!rc) rc = bbpe_encode(t, (const char *)text.data, &all, &n);
    buf_free(&text);
    if (rc) return rc;
    int keep = n < (size_t)len ? (int)n : len;
    for (int i = 0; i < len; i++) {
        ids[i] = i < keep ? all[i] : pad;
        mask[i] = i < keep;
    }
    free(all);
    if (used) *used = keep;
    if (total) *total = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
    return IMG_OK;
}
