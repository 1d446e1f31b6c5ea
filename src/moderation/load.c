/* load.c - moderation rules from the configured file or the built-in copy. */
#include "moderation/load.h"
#include "common/buf.h"
#include "common/status.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int mod_load_configured(const config_t *cfg, moderation_t **out, char *err, size_t errlen) {
    if (!cfg->moderation_rules[0]) return mod_load_default(out, err, errlen);
    FILE *f = fopen(cfg->moderation_rules, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read moderation rules %s: %s", cfg->moderation_rules, strerror(errno));
        return IMG_EIO;
    }
    buf_t b = {0};
    char chunk[4096];
    size_t n;
    int rc = IMG_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = buf_append(&b, chunk, n) ? IMG_ENOMEM : IMG_OK;
    if (!rc && ferror(f)) rc = IMG_EIO;
    fclose(f);
    if (!rc) rc = buf_append(&b, "", 0) ? IMG_ENOMEM : IMG_OK; /* an empty file still has its NUL */
    if (rc)
        snprintf(err, errlen, "cannot read moderation rules %s: %s", cfg->moderation_rules,
                 rc == IMG_EIO ? "read error" : "out of memory");
    else
        rc = mod_load((const char *)b.data, out, err, errlen);
    buf_free(&b);
    return rc;
}
