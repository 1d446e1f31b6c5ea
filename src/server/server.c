/* server.c - libmicrohttpd glue: the route table, body collection, responses, start and stop. */
#include "server/server.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "moderation/load.h"
#include "server/a1111.h"
#include "server/async.h"
#include "server/connwatch.h"
#include "server/form.h"
#include "server/internal.h"
#include "webhook/sender.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* The route table: adding a route is adding a row. Exact paths come before wildcards. */
static const route_t ROUTES[] = {
    {"GET", "/healthz", h_healthz, "healthz", STYLE_SEED, 0},
    {"GET", "/", h_playground, "playground", STYLE_SEED, 0},
    {"GET", "/openapi.json", h_openapi, "openapi", STYLE_SEED, 0},
    {"GET", "/readyz", h_readyz, "readyz", STYLE_SEED, 0},
    {"GET", "/metrics", h_metrics, "metrics", STYLE_SEED, 0},
    {"GET", "/v1/models", h_models, "models", STYLE_OPENAI, 0},
    {"GET", "/v1/get-user-credits", h_user_credits, "credits", STYLE_SEED, 0},
    {"POST", "/v1/images/generations", h_generate_openai, "images_generations", STYLE_OPENAI, 0},
    {"POST", "/v1/images/edits", h_images_edits, "images_edits", STYLE_OPENAI, 0},
    {"POST", "/v1/images/variations", h_images_variations, "images_variations", STYLE_OPENAI, 0},
    {"POST", "/v1/*", h_generate_seed, "v1_model", STYLE_SEED, 1},
    {"GET", "/v1/requests/*", h_v2_result, "requests", STYLE_SEED, 0},
    {"POST", "/v2/*", h_v2_submit, "v2_model", STYLE_SEED, 1},
    {"GET", "/v2/requests/*/status", h_v2_status, "requests_status", STYLE_SEED, 0},
    {"GET", "/v2/requests/*", h_v2_result, "requests", STYLE_SEED, 0},
    {"DELETE", "/v2/requests/*", h_v2_cancel, "requests", STYLE_SEED, 0},
    {"POST", "/sdapi/v1/txt2img", h_a1111_txt2img, "a1111_txt2img", STYLE_SEED, 0},
    {"POST", "/sdapi/v1/img2img", h_a1111_img2img, "a1111_img2img", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/sd-models", h_a1111_sd_models, "a1111", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/options", h_a1111_options_get, "a1111", STYLE_SEED, 0},
    {"POST", "/sdapi/v1/options", h_a1111_options_post, "a1111", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/samplers", h_a1111_samplers, "a1111", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/schedulers", h_a1111_schedulers, "a1111", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/loras", h_a1111_loras, "a1111", STYLE_SEED, 0},
    {"GET", "/sdapi/v1/progress", h_a1111_progress, "a1111", STYLE_SEED, 0},
    {"POST", "/sdapi/v1/interrupt", h_a1111_interrupt, "a1111", STYLE_SEED, 0},
    {"POST", "/sdapi/v1/skip", h_a1111_skip, "a1111", STYLE_SEED, 0},
    {"POST", "/admin/keys", h_admin_keys_create, "admin", STYLE_SEED, 0},
    {"GET", "/admin/keys", h_admin_keys_list, "admin", STYLE_SEED, 0},
    {"GET", "/admin/keys/*", h_admin_key_show, "admin", STYLE_SEED, 0},
    {"POST", "/admin/keys/*/revoke", h_admin_key_revoke, "admin", STYLE_SEED, 0},
    {"POST", "/admin/keys/*/credits", h_admin_key_credits, "admin", STYLE_SEED, 0},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* Matches path against pattern; copies the '*' segment into param. */
static int match(const char *pattern, const char *path, char *param, size_t plen) {
    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            if (n == 0 || n >= plen) return 0;
            memcpy(param, path, n);
            param[n] = 0;
            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

const char *req_header(req_t *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

enum MHD_Result respond(req_t *r, int status, const char *content_type, char *body, size_t len,
                        const hdr_t *hdrs, int nhdrs) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (int i = 0; i < nhdrs; i++)
        MHD_add_response_header(resp, hdrs[i].name, hdrs[i].value);
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    metrics_request(r->srv->metrics, r->route ? r->route->label : "unknown", status);
    /* access log: no keys, no bodies, no query strings */
    log_line(&r->srv->log, "%s %s %d %.0fms id=%s", r->method, r->url, status,
             (clock_mono() - r->started) * 1000.0, r->request_id);
    return rc;
}

enum MHD_Result respond_json(req_t *r, int status, char *json, const hdr_t *hdrs, int nhdrs) {
    if (!json) return respond(r, 500, "text/plain", NULL, 0, hdrs, nhdrs);
    return respond(r, status, "application/json", json, strlen(json), hdrs, nhdrs);
}

enum MHD_Result respond_error(req_t *r, const api_error_t *e, const hdr_t *hdrs, int nhdrs) {
    return respond_json(r, e->status, api_error_json(e, r->style), hdrs, nhdrs);
}

enum MHD_Result respond_simple_error(req_t *r, int status, const char *code, const char *param,
                                     const char *message) {
    api_error_t e;
    api_error_set(&e, status, code, param, "%s", message);
    return respond_error(r, &e, NULL, 0);
}

int req_authenticate(req_t *r, store_key_t *key, api_error_t *err) {
    char basic[512];
    const char *k = hdr_api_key(req_header(r, "x-api-key"), req_header(r, "Authorization"));
    if (!k) k = hdr_basic_key(req_header(r, "Authorization"), basic, sizeof basic);
    if (!k) {
        api_error_set(err, 401, "missing_api_key", NULL,
                      "Missing API key: send it in the x-api-key header or as Authorization: "
                      "Bearer KEY.");
        return -1;
    }
    int rc = store_key_authenticate(r->srv->store, k, key);
    if (rc == IMG_OK) return 0;
    if (rc == IMG_EDENIED) {
        api_error_set(err, 403, "key_revoked", NULL, "This API key has been revoked.");
    } else if (rc == IMG_ENOTFOUND) {
        api_error_set(err, 401, "invalid_api_key", NULL, "Invalid API key.");
    } else {
        api_error_set(err, 500, "internal_error", NULL, "The key store is unavailable.");
    }
    return -1;
}

int req_client_gone(req_t *r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return 1;
    if (p.revents & POLLRDHUP) {
        char c;
        return recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }
    return 0;
}

int req_json_content_type(req_t *r) {
    return hdr_is_json(req_header(r, "Content-Type"));
}

static enum MHD_Result dispatch(req_t *r) {
    char allow[64] = "";
    int path_known = 0;
    /* HEAD is GET without the body (MHD leaves the body out of the answer) */
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    for (size_t i = 0; i < NROUTES; i++) {
        char param[sizeof r->param] = "";
        if (!match(ROUTES[i].pattern, r->url, param, sizeof param)) continue;
        if (ROUTES[i].param_is_model && !registry_find(r->srv->models, param)) continue;
        path_known = 1;
        if (strcmp(ROUTES[i].method, method) == 0) {
            r->route = &ROUTES[i];
            r->style = ROUTES[i].style;
            memcpy(r->param, param, sizeof param);
            return ROUTES[i].handler(r);
        }
        if (!strstr(allow, ROUTES[i].method)) {
            if (allow[0]) strcat(allow, ", ");
            strcat(allow, ROUTES[i].method);
            if (strcmp(ROUTES[i].method, "GET") == 0) strcat(allow, ", HEAD");
        }
    }
    if (path_known) {
        hdr_t h = {"Allow", allow};
        api_error_t e;
        api_error_set(&e, 405, "method_not_allowed", NULL, "Method %s is not allowed here; use %s.",
                      r->method, allow);
        return respond_error(r, &e, &h, 1);
    }
    if ((strncmp(r->url, "/v1/", 4) == 0 || strncmp(r->url, "/v2/", 4) == 0) &&
        !strchr(r->url + 4, '/'))
        return respond_simple_error(r, 404, "model_not_found", NULL,
                                    "Model not found: no installed model has this name.");
    return respond_simple_error(r, 404, "not_found", NULL, "Not found.");
}

/* Counts the request's Content-Length headers and whether any two differ. */
typedef struct {
    int count, conflict;
    const char *first;
} length_headers_t;

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    length_headers_t *l = cls;
    if (strcasecmp(key, "Content-Length") != 0) return MHD_YES;
    if (l->count++ == 0)
        l->first = value;
    else if (strcmp(l->first ? l->first : "", value ? value : "") != 0)
        l->conflict = 1;
    return MHD_YES;
}

/* POST /v1/{model} and /v2/{model}: a JSON body that may carry images (SPEC §11); and A1111's
 * img2img, whose init images and mask come as base64. */
static int model_route(const char *method, const char *url) {
    if (!strcmp(method, "POST") && !strcmp(url, "/sdapi/v1/img2img")) return 1;
    if (strcmp(method, "POST") || (strncmp(url, "/v1/", 4) && strncmp(url, "/v2/", 4))) return 0;
    return url[4] && !strchr(url + 4, '/');
}

static void too_large_error(const req_t *r, api_error_t *e) {
    if (r->body_limit > MAX_BODY_BYTES)
        api_error_set(e, 413, "body_too_large", NULL,
                      "The request body is larger than max_edit_body (%zu bytes).", r->body_limit);
    else
        api_error_set(e, 413, "body_too_large", NULL, "The request body is larger than 1 MiB.");
}

static enum MHD_Result refuse_too_large(req_t *r) {
    api_error_t e;
    too_large_error(r, &e);
    return respond_error(r, &e, NULL, 0);
}

/* A body past its limit and MAX_DRAIN_BYTES that has no declared length (chunked): libmicrohttpd
 * 0.9.75 cannot send a response queued in the middle of a chunked upload (it discards the rest as
 * raw bytes, never sees the last chunk, and the client gets nothing), so the 413 is written to the
 * socket here, the sending side is shut down, and what the client still sends is read and
 * dropped for a short, bounded while (2 s, 4 MiB) so that closing does not reset the connection
 * before the client has read the answer. Returns MHD_NO: MHD then closes the connection. */
static enum MHD_Result refuse_mid_body(req_t *r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->responded = 1;
    metrics_request(r->srv->metrics, r->route ? r->route->label : "unknown", 413);
    log_line(&r->srv->log, "%s %s 413 %.0fms id=%s (body over %zu bytes, connection closed)",
             r->method, r->url, (clock_mono() - r->started) * 1000.0, r->request_id,
             r->body_limit + MAX_DRAIN_BYTES);
    if (!ci) return MHD_NO;
    api_error_t e;
    too_large_error(r, &e);
    char *body = api_error_json(&e, r->style);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nx-request-id: %s\r\nCache-Control: no-store\r\n"
                      "Connection: close\r\n\r\n",
                      body ? strlen(body) : 0, r->request_id);
    int fd = ci->connect_fd;
    double until = clock_mono() + 2.0;
    const char *parts[2] = {head, body ? body : ""};
    size_t lens[2] = {(size_t)hn, body ? strlen(body) : 0};
    for (int p = 0; p < 2; p++) {
        size_t off = 0;
        while (off < lens[p] && clock_mono() < until) {
            ssize_t k = send(fd, parts[p] + off, lens[p] - off, MSG_NOSIGNAL);
            if (k > 0) {
                off += (size_t)k;
            } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                poll(&pf, 1, 50);
            } else {
                break;
            }
        }
    }
    free(body);
    shutdown(fd, SHUT_WR);
    char sink[16384];
    size_t dropped = 0;
    while (clock_mono() < until && dropped < (size_t)4 << 20) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) continue;
        ssize_t k = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (k > 0) dropped += (size_t)k;
    }
    return MHD_NO;
}

static enum MHD_Result refuse_bad_request(req_t *r, const char *message) {
    return respond_simple_error(r, 400, "invalid_request", NULL, message);
}

/* MHD's URI log callback: a request line has arrived (the request's context stays NULL). */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)uri;
    connwatch_request_line(((server_t *)cls)->watch, conn);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    server_t *srv = cls;
    req_t *r = *con_cls;
    if (!r) {
        connwatch_headers_done(srv->watch, conn);
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        atomic_init(&r->holds, 1); /* the request's own: on_completed lets it go */
        r->srv = srv;
        r->conn = conn;
        r->method = method;
        r->url = url;
        if (crypto_uuid4(r->request_id)) snprintf(r->request_id, sizeof r->request_id, "req");
        r->started = clock_mono();
        *con_cls = r;
        length_headers_t lh = {0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length, &lh);
        if (lh.conflict)
            return refuse_bad_request(r, "The request has conflicting Content-Length headers.");
        const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
        if (lh.count && te)
            return refuse_bad_request(
                r, "The request has both Content-Length and Transfer-Encoding headers.");
        const char *cl = lh.first;
        int multipart = strcmp(method, "POST") == 0 && (strcmp(url, "/v1/images/edits") == 0 ||
                                                        strcmp(url, "/v1/images/variations") == 0);
        r->body_limit = multipart || model_route(method, url) ? (size_t)srv->cfg->max_edit_body
                                                              : MAX_BODY_BYTES;
        if (!strncmp(url, "/v1/images/", 11))
            r->style = STYLE_OPENAI; /* errors before routing too */
        if (multipart) {
            /* a multipart edit: parsed as it streams in, under the edit body limit */
            if (cl && strtoull(cl, NULL, 10) > (unsigned long long)srv->cfg->max_edit_body) {
                r->too_large = 1;
                return respond_simple_error(r, 413, "body_too_large", NULL,
                                            "The request body is larger than max_edit_body.");
            }
            r->form = calloc(1, sizeof *r->form);
            if (!r->form) return MHD_NO;
            r->pp = MHD_create_post_processor(conn, 64 * 1024, form_iterate, r->form);
            if (!r->pp)
                form_fail(r->form, 400, NULL,
                          "Content-Type must be multipart/form-data with a boundary.");
            return MHD_YES;
        }
        /* a declared length over the limit is answered at once (over 1 MiB: after reading and
         * dropping up to MAX_DRAIN_BYTES, so that the client reads the answer) */
        if (cl && strtoull(cl, NULL, 10) >
                      (r->body_limit > MAX_BODY_BYTES ? r->body_limit : MAX_DRAIN_BYTES)) {
            r->too_large = 1;
            return refuse_too_large(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* deadlines and the minimum rate of the body are the connection watch's (connwatch.c) */
        size_t n = *upload_size;
        *upload_size = 0;
        r->body_seen += n;
        connwatch_body_bytes(srv->watch, conn, n);
        if (r->responded) return MHD_YES;
        if (r->form) {
            if (r->body_seen > (size_t)srv->cfg->max_edit_body) {
                if (!r->too_large) form_free(r->form); /* stop keeping; read and drop the rest */
                r->too_large = 1;
                if (r->body_seen > (size_t)srv->cfg->max_edit_body + MAX_DRAIN_BYTES)
                    return refuse_mid_body(r);
                return MHD_YES;
            }
            if (r->pp && !r->form->status && MHD_post_process(r->pp, upload, n) != MHD_YES)
                form_fail(r->form, 400, NULL, "The multipart body is malformed.");
            return MHD_YES;
        }
        if (r->body_seen > r->body_limit) {
            r->too_large = 1;
            buf_free(&r->body);
            /* keep reading (and dropping) so that the 413 goes out once the body has ended; a
             * body that does not end within MAX_DRAIN_BYTES past its limit is answered here and
             * closed */
            if (r->body_seen > r->body_limit + MAX_DRAIN_BYTES) return refuse_mid_body(r);
            return MHD_YES;
        }
        if (buf_append(&r->body, upload, n)) return MHD_NO;
        return MHD_YES;
    }
    connwatch_request_done(srv->watch, conn);
    if (r->responded) return MHD_YES;
    if (r->pp) { /* the last part ends here; a body without its closing boundary is refused */
        if (MHD_destroy_post_processor(r->pp) != MHD_YES && !r->too_large)
            form_fail(r->form, 400, NULL, "The multipart body ended before its closing boundary.");
        r->pp = NULL;
    }
    if (r->form && r->too_large)
        return respond_simple_error(r, 413, "body_too_large", NULL,
                                    "The request body is larger than max_edit_body.");
    if (r->too_large) return refuse_too_large(r);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)toe;
    req_t *r = *con_cls;
    if (!r) return;
    if (r->counted_active) atomic_fetch_sub(&((server_t *)cls)->active, 1);
    connwatch_request_completed(((server_t *)cls)->watch, conn);
    buf_free(&r->body);
    if (r->pp) MHD_destroy_post_processor(r->pp);
    if (r->form) {
        form_free(r->form);
        free(r->form);
    }
    r->body = (buf_t){0};
    r->pp = NULL;
    r->form = NULL;
    *con_cls = NULL;
    req_release(r); /* a stream still being torn down keeps it until stream_free */
}

void req_release(req_t *r) {
    if (atomic_fetch_sub(&r->holds, 1) == 1) free(r);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err,
                        size_t errlen) {
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon) {
        snprintf(err, errlen, "listen address '%s' is not HOST:PORT", listen);
        return -1;
    }
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, listen, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int server_start(const config_t *cfg, store_t *store, registry_t *models,
                 const job_runner_t *runner, const log_sink_t *log, server_t **out, char *err,
                 size_t errlen) {
    server_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ENOMEM;
    if (log) s->log = *log;
    s->cfg = cfg;
    s->store = store;
    s->models = models;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_listen(cfg->listen, &ss, &sslen, err, errlen)) {
        free(s);
        return IMG_EINVAL;
    }
    if (mod_load_configured(cfg, &s->moderation, err, errlen)) {
        free(s);
        return IMG_EINVAL;
    }
    if (metrics_create(&s->metrics) || ratelimit_create(&s->limits) ||
        queue_create_with(models, runner, cfg->workers, cfg->queue_size, &s->queue)) {
        snprintf(err, errlen, "cannot start the worker pool");
        server_stop(s);
        return IMG_ENOMEM;
    }
    sender_opts_t so = {.allow_private = cfg->webhook_allow_private,
                        .max_attempts = cfg->webhook_max_attempts,
                        .retry_base_ms = cfg->webhook_retry_ms,
                        .timeout_seconds = cfg->webhook_timeout_seconds};
    if (sender_start(store, &so, &s->log, &s->hooks)) {
        snprintf(err, errlen, "cannot start the webhook sender");
        server_stop(s);
        return IMG_ENOMEM;
    }
    int rc = a1111_create(&s->a1111);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        server_stop(s);
        return rc;
    }
    rc = async_create(s, &s->async, err, errlen);
    if (rc) {
        server_stop(s);
        return rc;
    }
    connwatch_opts_t wo = {.max_connections = cfg->max_connections,
                           .max_connections_per_ip = cfg->max_connections_per_ip,
                           .header_timeout = cfg->header_timeout_seconds,
                           .body_timeout = cfg->body_timeout_seconds,
                           .min_rate = cfg->body_min_rate,
                           .min_rate_grace = 5.0};
    if (connwatch_create(&wo, &s->log, &s->watch)) {
        snprintf(err, errlen, "cannot start the connection watch");
        server_stop(s);
        return IMG_ENOMEM;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* the watch admits max_connections; MHD's own limit leaves room for connections the watch
     * has closed whose cleanup MHD has not finished */
    s->daemon = MHD_start_daemon(
        flags, 0, connwatch_accept, s->watch, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections + CONNWATCH_RESERVE), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, connwatch_notify, s->watch, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not permitted)", cfg->listen);
        server_stop(s);
        return IMG_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return IMG_OK;
}

int server_port(const server_t *s) {
    return s->port;
}

void server_stop(server_t *s) {
    if (!s) return;
    atomic_store(&s->stopping, 1);
    if (s->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET) close(fd);
        double until = clock_mono() + s->cfg->shutdown_grace_seconds;
        while ((atomic_load(&s->active) > 0 || (s->async && async_running(s->async) > 0)) &&
               clock_mono() < until)
            usleep(20000);
        /* Past the grace period: waiting handlers cancel their jobs, release their credits and
         * answer; give their answers a moment to go out before the connections close. */
        atomic_store(&s->cancel_all, 1);
        until = clock_mono() + 5.0;
        while (atomic_load(&s->active) > 0 && clock_mono() < until)
            usleep(10000);
        MHD_stop_daemon(s->daemon);
    }
    connwatch_free(s->watch); /* after the daemon: no more callbacks */
    async_stop(s->async);     /* before the queue: running requests are settled, queued ones kept */
    sender_stop(s->hooks);    /* undelivered webhooks stay in the store for the next start */
    queue_free(s->queue);
    mod_free(s->moderation);
    ratelimit_free(s->limits);
    metrics_free(s->metrics);
    a1111_free(s->a1111); /* after the daemon: no handler left to list a job */
    free(s);
}
