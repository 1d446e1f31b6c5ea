/* stream.c - server-sent events for `stream: true` (see stream.h). libmicrohttpd pulls the body
 * through reader(), on the connection's own thread, so the reader may wait for the job. */
#include "server/stream.h"
#include "api/pricing.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/status.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    admit_t g; /* owns the request, the reservation and the rate-limit slot until settled */
    job_t *job;
    job_spec_t spec;
    buf_t out; /* the event being sent */
    size_t off;
    int image;   /* index of the image whose partials are being sent */
    int sent;    /* partials sent for that image */
    int settled; /* the ledger is settled (charged or released) */
    int ended;   /* every event has been produced */
    int gone, shutdown, timed_out;
    const char *ev_partial, *ev_completed; /* image_generation.* or, for edits, image_edit.* */
} stream_t;

/* Appends one event; data is consumed. */
static int event(stream_t *st, const char *type, json_t *data) {
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!s) return IMG_ENOMEM;
    int rc = buf_printf(&st->out, "event: %s\ndata: %s\n\n", type, s);
    free(s);
    return rc;
}

/* The fields every image event has; b64 of the encoded bytes. */
static json_t *image_event(stream_t *st, const char *type, const uint8_t *bytes, size_t len) {
    char *b64 = malloc(b64_encoded_len(len) + 1);
    if (!b64) return NULL;
    b64_encode(bytes, len, b64);
    json_t *j = json_pack("{s:s, s:s%, s:I, s:s, s:s, s:s, s:s}", "type", type, "b64_json", b64,
                          b64_encoded_len(len), "created_at", (json_int_t)clock_wall(), "size",
                          api_size_name(st->g.size), "quality", api_quality_name(st->g.quality),
                          "background", api_background_name(st->g.background), "output_format",
                          api_format_name(st->g.q.output_format));
    free(b64);
    return j;
}

static void error_event(stream_t *st, const api_error_t *e) {
    char *body = api_error_json(e, STYLE_OPENAI);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (j) json_object_set_new(j, "type", json_string("error"));
    if (event(st, "error", j)) st->out.len = 0;
}

/* The preview of the running image as a partial image event, when one is due. Returns 1 when an
 * event was added. */
static int partial(stream_t *st) {
    int want = st->g.q.partial_images;
    if (!want) return 0;
    int image, step, steps;
    job_progress(st->job, &image, &step, &steps);
    if (image != st->image) {
        st->image = image;
        st->sent = 0;
    }
    /* partial k (1-based) once sampling passes k/(want+1) of its steps */
    if (st->sent >= want || steps <= 0 || step * (want + 1) < (st->sent + 1) * steps) return 0;
    img_t pv = {0}, sized = {0};
    int pstep;
    if (job_preview(st->job, &pv, &pstep) != IMG_OK) return 0;
    /* the preview itself must be past the mark, not only the progress: behind a gateway the two
     * arrive apart (progress first), and the previous step's preview would be sent again */
    if (pstep * (want + 1) < (st->sent + 1) * steps) {
        img_free(&pv);
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    /* PNG partials at low zlib effort: they are replaced within seconds */
    int quality = st->g.q.output_format == FORMAT_PNG ? 10 : st->g.q.output_compression;
    int rc = img_resize(&pv, st->spec.width, st->spec.height, &sized);
    if (!rc) rc = img_encode(&sized, (img_format_t)st->g.q.output_format, quality, &bytes, &len);
    img_free(&pv);
    img_free(&sized);
    if (rc) return 0;
    json_t *j = image_event(st, st->ev_partial, bytes, len);
    free(bytes);
    if (j) json_object_set_new(j, "partial_image_index", json_integer(st->sent));
    if (!j || event(st, st->ev_partial, j)) return 0;
    st->sent++;
    return 1;
}

/* The job ended (or was given up): settle the ledger and add the last events. */
static void finish(stream_t *st, job_state_t js) {
    server_t *s = st->g.r->srv;
    api_error_t e;
    if (js == JOB_DONE && !st->gone) {
        if (admit_charge(&st->g, NULL, &e)) {
            admit_release(&st->g, &e, NULL);
            error_event(st, &e);
        } else {
            int n;
            const job_image_t *imgs = job_images(st->job, &n);
            int in_tok = job_input_tokens(st->job);
            int out_tok = price_output_tokens(st->g.quality, st->g.size);
            for (int i = 0; i < n; i++) {
                json_t *j = image_event(st, st->ev_completed, imgs[i].data, imgs[i].len);
                int in_i = i == 0 ? in_tok : 0; /* the prompt is counted once */
                if (j)
                    json_object_set_new(j, "usage",
                                        json_pack("{s:i, s:i, s:i, s:{s:i, s:i}}", "input_tokens",
                                                  in_i, "output_tokens", out_tok, "total_tokens",
                                                  in_i + out_tok, "input_tokens_details",
                                                  "text_tokens", in_i, "image_tokens", 0));
                if (!j || event(st, st->ev_completed, j)) {
                    log_line(&s->log, "stream %s: out of memory writing an image event",
                             st->g.r->request_id);
                    break;
                }
            }
        }
        metrics_job(s->metrics, "done", job_run_seconds(st->job));
    } else {
        admit_job_error(&st->g, st->job, js, st->gone, st->shutdown, st->timed_out, &e);
        admit_release(&st->g, &e, NULL);
        if (!st->gone) error_event(st, &e);
    }
    st->settled = 1;
    st->ended = 1;
}

/* Waits for the next event (a partial image or the end) and writes it into st->out. */
static void next_event(stream_t *st) {
    server_t *s = st->g.r->srv;
    for (;;) {
        /* previews change every sampling step: poll often while partials are still due */
        job_state_t js = job_wait(st->job, st->sent < st->g.q.partial_images ? 0.01 : 0.05);
        if (js >= JOB_DONE) {
            finish(st, js);
            return;
        }
        if (st->gone || st->timed_out || st->shutdown) {
            js = job_state(st->job);
            if (js == JOB_QUEUED || js == JOB_RUNNING) { /* given up: it ends on its own */
                finish(st, js);
                return;
            }
            continue;
        }
        if (partial(st)) return;
        if (req_client_gone(st->g.r)) {
            st->gone = 1;
            job_cancel(st->job, IMG_ECANCELLED);
        } else if (clock_mono() > st->spec.deadline) {
            st->timed_out = 1;
            job_cancel(st->job, IMG_ETIMEDOUT);
        } else if (atomic_load(&s->cancel_all)) {
            st->shutdown = 1;
            job_cancel(st->job, IMG_ECANCELLED);
        }
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_t *st = cls;
    while (st->off >= st->out.len) {
        st->out.len = 0;
        st->off = 0;
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        next_event(st);
        if (st->gone) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->out.len - st->off < max ? st->out.len - st->off : max;
    memcpy(buf, st->out.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

/* Called once the answer is over, sent or not: a stream cut short still settles its ledger. */
static void stream_free(void *cls) {
    stream_t *st = cls;
    if (!st->settled) {
        job_cancel(st->job, IMG_ECANCELLED);
        st->gone = 1;
        finish(st, job_state(st->job) >= JOB_DONE ? JOB_CANCELLED : job_state(st->job));
    }
    job_release(st->job);
    api_request_free(&st->g.q);
    buf_free(&st->out);
    req_t *r = st->g.r;
    free(st);
    req_release(r); /* the stream's hold, taken in stream_start */
}

enum MHD_Result stream_start(admit_t *a, job_t *job, const job_spec_t *spec) {
    req_t *r = a->r;
    stream_t *st = calloc(1, sizeof *st); /* owned by the response: stream_free */
    struct MHD_Response *resp =
        st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, st, stream_free)
           : NULL;
    if (!resp) {
        free(st);
        job_cancel(job, IMG_ECANCELLED);
        job_release(job);
        api_error_t e;
        api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
        enum MHD_Result res = admit_fail(a, &e);
        api_request_free(&a->q);
        return res;
    }
    st->g = *a; /* takes over the request: a->q now belongs to st */
    atomic_fetch_add(&r->holds, 1); /* r outlives the request while the stream needs it */
    for (int i = 0; i < st->g.nhdrs; i++)
        st->g.hdrs[i].value = st->g.hbuf[i]; /* the copies point into the copy */
    st->job = job;
    st->spec = *spec;
    st->spec.init_image = NULL; /* the job keeps its own copy; the caller's goes away */
    st->spec.mask = NULL;
    st->spec.more_images = NULL;
    st->spec.nmore = 0;
    int edit = r->route && !strcmp(r->route->label, "images_edits");
    st->ev_partial = edit ? "image_edit.partial_image" : "image_generation.partial_image";
    st->ev_completed = edit ? "image_edit.completed" : "image_generation.completed";
    st->spec.prompt = st->spec.negative_prompt = NULL; /* they point into a->q: not needed */
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    for (int i = 0; i < a->nhdrs; i++)
        MHD_add_response_header(resp, a->hdrs[i].name, a->hdrs[i].value);
    /* counted until the stream is over, so that shutdown waits for it */
    atomic_fetch_add(&r->srv->active, 1);
    r->counted_active = 1;
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    metrics_request(r->srv->metrics, r->route ? r->route->label : "unknown", 200);
    log_line(&r->srv->log, "%s %s 200 %.0fms id=%s (stream)", r->method, r->url,
             (clock_mono() - r->started) * 1000.0, r->request_id);
    return rc;
}
