/* sender.c - the webhook delivery thread. */
#include "webhook/sender.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "webhook/guard.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

struct sender {
    store_t *store;
    sender_opts_t o;
    log_sink_t log;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, woken;
};

void sender_sign(const char *secret, const char *body, size_t len, char out[72]) {
    uint8_t mac[32];
    crypto_hmac_sha256(secret, strlen(secret), body, len, mac);
    memcpy(out, "sha256=", 7);
    crypto_hex(mac, 32, out + 7);
}

static double now_wall(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* libcurl asks before each connect: refuse loopback/private addresses (DNS rebinding). */
static curl_socket_t open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)purpose;
    const sender_t *s = user;
    if (!s->o.allow_private && guard_addr_is_private(&a->addr)) return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *user) {
    (void)p;
    (void)user;
    return size * n;
}

/* One attempt: returns the HTTP status (0 when none came back) and a reason in err. */
static int post(sender_t *s, const store_hook_t *h, const char *secret, char *err, size_t errlen) {
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    char sig[72], hdr_sig[100], hdr_req[80], hdr_id[64];
    size_t len = strlen(h->body);
    sender_sign(secret, h->body, len, sig);
    snprintf(hdr_sig, sizeof hdr_sig, "x-imgapi-signature: %s", sig);
    snprintf(hdr_req, sizeof hdr_req, "x-imgapi-request-id: %s", h->request_id);
    snprintf(hdr_id, sizeof hdr_id, "x-imgapi-delivery: %lld", (long long)h->id);
    struct curl_slist *hdrs = NULL, *t;
    const char *list[] = {"Content-Type: application/json",
                          "User-Agent: imgapi-webhook/1",
                          hdr_sig,
                          hdr_req,
                          hdr_id,
                          "Expect:"};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (!(t = curl_slist_append(hdrs, list[i]))) break;
        hdrs = t;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)s->o.timeout_seconds);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     (long)(s->o.timeout_seconds < 5 ? s->o.timeout_seconds : 5));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        snprintf(err, errlen, "HTTP %ld", status);
    } else if (rc == CURLE_COULDNT_CONNECT && !s->o.allow_private) {
        snprintf(err, errlen, "could not connect (private addresses are refused): %.80s", cerr);
    } else {
        snprintf(err, errlen, "%.150s", cerr[0] ? cerr : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return (int)status;
}

static void deliver(sender_t *s, const store_hook_t *h) {
    char url[8], secret[STORE_HOOK_SECRET_LEN + 1], err[160];
    int http = 0;
    if (store_hook_key_get(s->store, h->key_id, url, sizeof url, secret)) {
        snprintf(err, sizeof err, "the key's webhook secret is unavailable");
    } else {
        http = post(s, h, secret, err, sizeof err);
    }
    int ok = http >= 200 && http < 300;
    double next = -1;
    if (!ok && h->attempts + 1 < s->o.max_attempts) {
        double delay = s->o.retry_base_ms / 1000.0;
        for (int i = 0; i < h->attempts; i++)
            delay *= 2;
        next = now_wall() + delay;
    }
    store_hook_result(s->store, h->id, ok, http, ok ? "" : err, next);
    if (!ok)
        log_line(&s->log, "webhook %lld for request %s: %s%s", (long long)h->id, h->request_id, err,
                 next < 0 ? "; given up" : "; will retry");
}

static void *run(void *arg) {
    sender_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        s->woken = 0;
        pthread_mutex_unlock(&s->mu);
        store_hook_t *due = NULL;
        size_t n = 0;
        if (store_hook_due(s->store, now_wall(), 16, &due, &n) == IMG_OK) {
            for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&s->mu);
                int stop = s->stopping;
                pthread_mutex_unlock(&s->mu);
                if (stop) break;
                deliver(s, &due[i]);
            }
            store_hook_free(due, n);
        }
        pthread_mutex_lock(&s->mu);
        if (s->stopping || (n == 16 && !s->woken)) continue; /* more may be due right away */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L; /* retries come due without a wake-up: look every 100 ms */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!s->woken) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sender_start(store_t *store, const sender_opts_t *opts, const log_sink_t *log, sender_t **out) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return IMG_ENOMEM;
    sender_t *s = calloc(1, sizeof *s);
    if (!s) {
        curl_global_cleanup();
        return IMG_ENOMEM;
    }
    s->store = store;
    s->o = *opts;
    if (s->o.max_attempts < 1) s->o.max_attempts = 1;
    if (s->o.timeout_seconds < 1) s->o.timeout_seconds = 1;
    if (log) s->log = *log;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, run, s)) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        curl_global_cleanup();
        return IMG_ENOMEM;
    }
    *out = s;
    return IMG_OK;
}

void sender_wake(sender_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->woken = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sender_stop(sender_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    curl_global_cleanup();
}
