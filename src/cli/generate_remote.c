/* generate_remote.c - `imgapi generate --server URL [--async]`: the same command as a client of
 * a running imgapi (or any server with this API), through the sync route or the v2 flow
 * (submit, poll the status URL, fetch the result). */
#include "cli/generate_remote.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/status.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t collect(char *p, size_t size, size_t n, void *user) {
    return buf_append(user, p, size * n) == IMG_OK ? size * n : 0;
}

/* One request; the parsed JSON answer (caller decrefs) and the HTTP status, or NULL with a
 * reason printed. body NULL: GET, else POST. */
static json_t *call(const char *method, const char *url, const char *key, const char *body,
                    long *status) {
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    buf_t out = {0};
    char auth[600];
    snprintf(auth, sizeof auth, "x-api-key: %s", key);
    struct curl_slist *h = curl_slist_append(NULL, auth), *t;
    if (h && (t = curl_slist_append(h, "Content-Type: application/json"))) h = t;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    json_t *j = NULL;
    if (rc != CURLE_OK) {
        fprintf(stderr, "imgapi: %s %s: %s\n", method, url, curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        j = json_loadb(out.data ? (const char *)out.data : "", out.len, 0, NULL);
        if (!j)
            fprintf(stderr, "imgapi: %s %s: HTTP %ld with a body that is not JSON\n", method, url,
                    *status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    buf_free(&out);
    return j;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt) {
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : dflt;
}

/* Prints a seed- or OpenAI-style error body. */
static void print_error(long status, json_t *j) {
    json_t *e = json_object_get(j, "error");
    const char *msg =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(json_is_object(e) ? e : j, "code"));
    fprintf(stderr, "imgapi: the server answered %ld%s%s%s: %s\n", status, code ? " (" : "",
            code ? code : "", code ? ")" : "", msg ? msg : "no message");
}

/* Writes data[0].b64_json of a sync response to path. */
static int write_image(json_t *resp, const char *path) {
    const char *b64 = json_string_value(
        json_object_get(json_array_get(json_object_get(resp, "data"), 0), "b64_json"));
    if (!b64) {
        fprintf(stderr, "imgapi: the response has no image\n");
        return 1;
    }
    size_t len = strlen(b64);
    uint8_t *img = malloc(len / 4 * 3 + 3);
    long n = img ? b64_decode(b64, len, img) : -1;
    FILE *f = n >= 0 ? fopen(path, "wb") : NULL;
    int bad = !f || fwrite(img, 1, (size_t)n, f) != (size_t)n;
    if (f && fclose(f)) bad = 1;
    free(img);
    if (bad) {
        fprintf(stderr, "imgapi: cannot write %s\n", path);
        return 1;
    }
    printf("%s\n", path);
    return 0;
}

int generate_remote(const remote_opts_t *o) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    char *body = json_dumps(o->body, JSON_COMPACT);
    char url[1024];
    size_t sl = strlen(o->server);
    int trim = sl && o->server[sl - 1] == '/';
    snprintf(url, sizeof url, "%.*s/%s/%s", (int)(sl - trim), o->server, o->async ? "v2" : "v1",
             o->model);
    long status = 0;
    json_t *resp = body ? call("POST", url, o->key, body, &status) : NULL;
    free(body);
    int rc = 1;
    if (resp && status != 200) {
        print_error(status, resp);
    } else if (resp && !o->async) {
        rc = write_image(resp, o->out);
    } else if (resp) {
        /* v2: poll the status URL, then fetch the result */
        char status_url[1024], response_url[1024], last[16] = "";
        snprintf(status_url, sizeof status_url, "%s", str_or(resp, "status_url", ""));
        snprintf(response_url, sizeof response_url, "%s", str_or(resp, "response_url", ""));
        fprintf(stderr, "imgapi: request %s queued\n", str_or(resp, "request_id", "?"));
        for (;;) {
            json_decref(resp);
            resp = status_url[0] ? call("GET", status_url, o->key, NULL, &status) : NULL;
            if (!resp || status != 200) break;
            const char *st = json_string_value(json_object_get(resp, "status"));
            if (!st) break;
            if (strcmp(st, last)) fprintf(stderr, "imgapi: %s\n", st);
            snprintf(last, sizeof last, "%s", st);
            if (!strcmp(st, "COMPLETED") || !strcmp(st, "FAILED")) break;
            usleep((useconds_t)(o->poll_seconds * 1e6));
        }
        if (resp && status == 200) {
            json_decref(resp);
            resp = call("GET", response_url, o->key, NULL, &status);
        }
        if (resp && status != 200) {
            print_error(status, resp);
        } else if (resp && json_object_get(resp, "output")) {
            rc = write_image(json_object_get(resp, "output"), o->out);
        } else if (resp) {
            json_t *e = json_object_get(resp, "error");
            fprintf(stderr, "imgapi: the request failed (%s): %s\n", str_or(e, "code", "?"),
                    str_or(e, "message", "no message"));
        }
    }
    json_decref(resp);
    curl_global_cleanup();
    return rc;
}
