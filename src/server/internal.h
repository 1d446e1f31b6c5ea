/* internal.h - what the server's source files share: the server state, a request's context,
 * response helpers and the handlers of the route table. */
#ifndef IMGAPI_SERVER_INTERNAL_H
#define IMGAPI_SERVER_INTERNAL_H
#include "api/error.h"
#include "common/buf.h"
#include "common/log.h"
#include "config/config.h"
#include "moderation/moderation.h"
#include "queue/queue.h"
#include "queue/registry.h"
#include "server/headers.h"
#include "server/metrics.h"
#include "server/ratelimit.h"
#include "store/store.h"
#include <microhttpd.h>
#include <stdatomic.h>

#define MAX_BODY_BYTES (1024 * 1024)
#define MAX_DRAIN_BYTES (16 * 1024 * 1024)

typedef struct server server_t;
struct server {
    const config_t *cfg;
    store_t *store;
    registry_t *models;
    queue_t *queue;
    ratelimit_t *limits;
    metrics_t *metrics;
    moderation_t *moderation;
    struct async *async;   /* asynchronous requests (async.c) */
    struct sender *hooks;  /* webhook deliveries (webhook/sender.c) */
    struct a1111 *a1111;   /* the A1111 routes' state (a1111.c) */
    struct MHD_Daemon *daemon;
    struct connwatch *watch; /* connection deadlines and caps (connwatch.c) */
    int port;
    log_sink_t log;
    atomic_int stopping;   /* no new generation work is accepted */
    atomic_int cancel_all; /* waiting handlers cancel their jobs */
    atomic_int active;     /* generation requests not yet completed (answer not yet sent) */
};

typedef struct req req_t;
typedef enum MHD_Result (*handler_fn)(req_t *r);

typedef struct {
    const char *method;
    const char *pattern; /* '*' matches one path segment, captured as the parameter */
    handler_fn handler;
    const char *label; /* metrics label */
    api_style_t style;
    int param_is_model; /* the '*' must name an installed model, else the path is unknown */
} route_t;

struct req {
    struct server *srv;
    struct MHD_Connection *conn;
    const char *method, *url;
    const route_t *route;
    char param[160];
    buf_t body;
    size_t body_seen;
    size_t body_limit; /* bytes a JSON body may have: 1 MiB, max_edit_body on a model's route */
    int too_large;
    int responded;
    int counted_active; /* holds one count of server.active until the request completes */
    struct form *form;  /* a multipart edit's parts (form.h), or NULL */
    struct MHD_PostProcessor *pp;
    char request_id[40];
    double started;
    api_style_t style;
    /* owners of this struct: the request until libmicrohttpd completes it, and a stream until
     * its response is freed (stream.c; libmicrohttpd may complete the request first); the last
     * to let go frees it (req_release) */
    atomic_int holds;
};

/* Lets go of one hold on r; frees r with the last. */
void req_release(req_t *r);

typedef struct {
    const char *name;
    const char *value;
} hdr_t;

/* Queues a response; takes ownership of body (malloc'd, may be NULL for empty). */
enum MHD_Result respond(req_t *r, int status, const char *content_type, char *body, size_t len,
                        const hdr_t *hdrs, int nhdrs);
enum MHD_Result respond_json(req_t *r, int status, char *json, const hdr_t *hdrs, int nhdrs);
enum MHD_Result respond_error(req_t *r, const api_error_t *e, const hdr_t *hdrs, int nhdrs);
enum MHD_Result respond_simple_error(req_t *r, int status, const char *code, const char *param,
                                     const char *message);
const char *req_header(req_t *r, const char *name);
/* Finds the calling key from x-api-key or Authorization: Bearer; fills err (401/403) on failure. */
int req_authenticate(req_t *r, store_key_t *key, api_error_t *err);
/* 1 when the request says Content-Type: application/json (parameters allowed). */
int req_json_content_type(req_t *r);
/* The adapters requests may name (info.c): [{"name", "bytes"}], sorted; a new reference. */
json_t *info_lora_list(const config_t *cfg);
/* 1 when the client closed its connection. */
int req_client_gone(req_t *r);

/* Handlers */
enum MHD_Result h_healthz(req_t *r);
enum MHD_Result h_openapi(req_t *r);
enum MHD_Result h_playground(req_t *r);
enum MHD_Result h_readyz(req_t *r);
enum MHD_Result h_metrics(req_t *r);
enum MHD_Result h_models(req_t *r);
enum MHD_Result h_user_credits(req_t *r);
enum MHD_Result h_generate_seed(req_t *r);
enum MHD_Result h_generate_openai(req_t *r);
enum MHD_Result h_images_edits(req_t *r);
enum MHD_Result h_images_variations(req_t *r);
enum MHD_Result h_v2_submit(req_t *r);
enum MHD_Result h_v2_status(req_t *r);
enum MHD_Result h_v2_result(req_t *r);
enum MHD_Result h_v2_cancel(req_t *r);
enum MHD_Result h_admin_keys_create(req_t *r);
enum MHD_Result h_admin_keys_list(req_t *r);
enum MHD_Result h_admin_key_show(req_t *r);
enum MHD_Result h_admin_key_revoke(req_t *r);
enum MHD_Result h_admin_key_credits(req_t *r);

#endif
