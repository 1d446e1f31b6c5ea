/* error.c - API error values and their JSON bodies (SPEC section 5). */
#include "api/error.h"
#include "common/text.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

void api_error_set(api_error_t *e, int status, const char *code, const char *param, const char *fmt,
                   ...) {
    e->status = status;
    /* param and the message may quote what the client sent: kept valid UTF-8 and cut on
     * character boundaries, so the JSON body can always be rendered */
    code = code ? code : "";
    param = param ? param : "";
    text_utf8_copy(e->code, sizeof e->code, code, strlen(code));
    text_utf8_copy(e->param, sizeof e->param, param, strlen(param));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    text_utf8_fix(e->message, sizeof e->message);
}

const char *api_error_type(int status) {
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 406:
        return "insufficient_quota";
    case 429:
        return "rate_limit_error";
    case 500:
    case 502:
    case 504:
        return "server_error";
    default:
        return "invalid_request_error";
    }
}

char *api_error_json(const api_error_t *e, api_style_t style) {
    json_t *param = e->param[0] ? json_string(e->param) : json_null();
    json_t *root;
    if (style == STYLE_SEED) {
        root = json_pack("{s:s, s:s, s:o}", "error", e->message, "code", e->code, "param", param);
    } else {
        root = json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "message", e->message, "type",
                         api_error_type(e->status), "param", param, "code", e->code);
    }
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}
