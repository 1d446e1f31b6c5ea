/* fuzz_request.c - libFuzzer target: the request parser and validation (SPEC §3) on arbitrary
 * bodies, for both route kinds. A body it accepts must have its fields inside their ranges. */
#include "api/a1111.h"
#include "api/request.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    api_route_kind_t kind = data[0] & 1 ? ROUTE_KIND_OPENAI : ROUTE_KIND_SEED;
    api_request_t q;
    api_error_t e;
    if (data[0] & 2) { /* the A1111 shapes: txt2img, or img2img with bit 2 */
        a1111_extra_t x;
        int img = data[0] & 4;
        int rc = img ? a1111_parse_img2img((const char *)data + 1, size - 1, &q, &x, &e)
                     : a1111_parse_txt2img((const char *)data + 1, size - 1, &q, &x, &e);
        if (rc == 0) {
            if (!q.prompt || q.n < 1 || q.n > 10 || q.width < 64 || q.width > 2048 || q.height < 64 || q.height > 2048)
                abort();
            if (q.settings.steps < 0 || q.settings.steps > 150 || (img && (q.nimages < 1 || !q.has_strength))) abort();
            api_request_free(&q);
            a1111_extra_free(&x);
        } else if (e.status < 400 || e.status > 499) {
            abort();
        }
        return 0;
    }
    if (api_request_parse(kind, (const char *)data + 1, size - 1, &q, &e) == 0) {
        if (!q.prompt || q.n < 1 || q.n > 10 || q.output_compression < 0 || q.output_compression > 100) abort();
        if (strlen(q.prompt) == 0) abort();
    } else if (e.status < 400 || e.status > 499) {
        abort(); /* a bad body is a client error, never a server one */
    }
    api_request_free(&q);
    return 0;
}
