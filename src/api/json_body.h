/* json_body.h - the one way a client's JSON body is read, on every route: duplicate keys
 * refused, NUL refused in every key and string (each a 400 naming the field), top level an
 * object. Pure: no I/O. */
#ifndef IMGAPI_API_JSON_BODY_H
#define IMGAPI_API_JSON_BODY_H
#include "api/error.h"
#include <jansson.h>
#include <stddef.h>

/* Parses body (len bytes). On success returns 0 and *out, a JSON object the caller releases with
 * json_decref; on failure returns -1 with *err set (400) and *out NULL. An empty body is an
 * error unless empty_ok, in which case it gives an empty object. */
int api_json_body(const char *body, size_t len, int empty_ok, json_t **out, api_error_t *err);

/* 1 when the JSON string v equals s exactly (same length: an embedded NUL never matches). */
int api_json_str_eq(const json_t *v, const char *s);

/* The kind of a JSON value in words ("a string", "an integer", ...), for messages. */
const char *api_json_kind(const json_t *v);

#endif
