/* connwatch.c - deadlines, per-address caps and room-making for HTTP connections (see
 * connwatch.h). One mutex guards the slot table; MHD's callbacks and the reaper take it. A
 * slot's socket is shut down only under the mutex and only while the slot is in use: MHD
 * reports CLOSED (which frees the slot under the same mutex) before it closes the socket, so the
 * descriptor shut down is always the connection's own. */
#include "server/connwatch.h"
#include "common/clock.h"
#include "common/status.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    PHASE_FREE = 0,
    PHASE_AWAIT_FRESH,     /* accepted, request not complete: deadline from accept */
    PHASE_AWAIT_KEEPALIVE, /* between requests on a kept-alive connection */
    PHASE_HEADERS,         /* a kept-alive connection's next request line has arrived */
    PHASE_BODY,            /* headers complete, the body is arriving */
    PHASE_HANDLING,        /* the whole request arrived: the handler's (no deadline) */
} phase_t;

typedef struct {
    phase_t phase;
    int closing; /* shut down by the watch, not yet reported closed */
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double since; /* start of the current phase */
    uint64_t body_bytes;
} slot_t;

struct connwatch {
    connwatch_opts_t o;
    log_sink_t log;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t reaper;
    int stop;
    int nslots;
    slot_t *slots; /* owned */
    connwatch_stats_t st;
};

/* Same client address (port ignored; IPv4-mapped IPv6 compared as IPv4). */
static int addr_key(const struct sockaddr *a, uint8_t out[16]) {
    memset(out, 0, 16);
    if (a->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
        return 0;
    }
    if (a->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

static int same_addr(const slot_t *s, const uint8_t key[16]) {
    uint8_t k[16];
    return addr_key((const struct sockaddr *)&s->addr, k) == 0 && memcmp(k, key, 16) == 0;
}

static int evictable(const slot_t *s) {
    return !s->closing && (s->phase == PHASE_AWAIT_FRESH || s->phase == PHASE_AWAIT_KEEPALIVE ||
                           s->phase == PHASE_HEADERS);
}

/* Under the mutex. */
static void shut(connwatch_t *w, slot_t *s) {
    s->closing = 1;
    shutdown(s->fd, SHUT_RDWR);
    (void)w;
}

/* Under the mutex: the slot to close to make room in a scope (an address, or all when key is
 * NULL): idle kept-alive connections first, then the oldest still sending its headers. */
static slot_t *victim(connwatch_t *w, const uint8_t *key) {
    slot_t *best = NULL;
    for (int i = 0; i < w->nslots; i++) {
        slot_t *s = &w->slots[i];
        if (!s->phase || !evictable(s) || (key && !same_addr(s, key))) continue;
        int idle = s->phase == PHASE_AWAIT_KEEPALIVE,
            best_idle = best && best->phase == PHASE_AWAIT_KEEPALIVE;
        if (!best || idle > best_idle || (idle == best_idle && s->since < best->since)) best = s;
    }
    return best;
}

enum MHD_Result connwatch_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    connwatch_t *w = cls;
    (void)addrlen;
    uint8_t key[16];
    int has_key = addr_key(addr, key) == 0;
    pthread_mutex_lock(&w->mu);
    int live = 0, mine = 0;
    for (int i = 0; i < w->nslots; i++) {
        const slot_t *s = &w->slots[i];
        if (!s->phase || s->closing) continue;
        live++;
        if (has_key && same_addr(s, key)) mine++;
    }
    enum MHD_Result ok = MHD_YES;
    if (has_key && w->o.max_connections_per_ip > 0 && mine >= w->o.max_connections_per_ip) {
        slot_t *v = victim(w, key);
        if (v) {
            shut(w, v);
            w->st.evicted++;
            live--;
        } else {
            ok = MHD_NO;
        }
    }
    if (ok == MHD_YES && live >= w->o.max_connections) {
        slot_t *v = victim(w, NULL);
        if (v) {
            shut(w, v);
            w->st.evicted++;
        } else {
            ok = MHD_NO;
        }
    }
    if (ok == MHD_NO) w->st.refused++;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void connwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
    connwatch_t *w = cls;
    pthread_mutex_lock(&w->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = NULL;
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        for (int i = 0; fd && ad && ad->client_addr && i < w->nslots; i++) {
            slot_t *s = &w->slots[i];
            if (s->phase) continue;
            memset(s, 0, sizeof *s);
            s->phase = PHASE_AWAIT_FRESH;
            s->fd = fd->connect_fd;
            s->addrlen = ad->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                : sizeof(struct sockaddr_in);
            memcpy(&s->addr, ad->client_addr, s->addrlen);
            s->since = clock_mono();
            *socket_context = s;
            break;
        }
        int open = 0;
        for (int i = 0; i < w->nslots; i++)
            open += w->slots[i].phase != PHASE_FREE;
        w->st.open = open;
        if (open > w->st.open_max) w->st.open_max = open;
    } else if (*socket_context) {
        slot_t *s = *socket_context;
        memset(s, 0, sizeof *s);
        *socket_context = NULL;
        w->st.open--;
    }
    pthread_mutex_unlock(&w->mu);
}

static slot_t *slot_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void set_phase(connwatch_t *w, struct MHD_Connection *c, phase_t p) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    slot_t *s = slot_of(c);
    if (s && s->phase) {
        s->phase = p;
        s->since = clock_mono();
        s->body_bytes = 0;
    }
    pthread_mutex_unlock(&w->mu);
}

void connwatch_request_line(connwatch_t *w, struct MHD_Connection *c) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    slot_t *s = slot_of(c);
    if (s && s->phase == PHASE_AWAIT_KEEPALIVE) { /* a fresh connection keeps its accept time */
        s->phase = PHASE_HEADERS;
        s->since = clock_mono();
    }
    pthread_mutex_unlock(&w->mu);
}

void connwatch_headers_done(connwatch_t *w, struct MHD_Connection *c) {
    set_phase(w, c, PHASE_BODY);
}

void connwatch_body_bytes(connwatch_t *w, struct MHD_Connection *c, size_t n) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    slot_t *s = slot_of(c);
    if (s && s->phase == PHASE_BODY) s->body_bytes += n;
    pthread_mutex_unlock(&w->mu);
}

void connwatch_request_done(connwatch_t *w, struct MHD_Connection *c) {
    set_phase(w, c, PHASE_HANDLING);
}

void connwatch_request_completed(connwatch_t *w, struct MHD_Connection *c) {
    set_phase(w, c, PHASE_AWAIT_KEEPALIVE);
}

/* The reaper: closes connections past their phase's deadline. */
static void *reap(void *arg) {
    connwatch_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        double now = clock_mono();
        int slow_h = 0, slow_b = 0;
        for (int i = 0; i < w->nslots && !w->stop; i++) {
            slot_t *s = &w->slots[i];
            if (!s->phase || s->closing) continue;
            double age = now - s->since;
            if ((s->phase == PHASE_AWAIT_FRESH || s->phase == PHASE_HEADERS) &&
                age > w->o.header_timeout) {
                shut(w, s);
                slow_h++;
            } else if (s->phase == PHASE_BODY &&
                       (age > w->o.body_timeout || (age > w->o.min_rate_grace &&
                                                    (double)s->body_bytes < age * w->o.min_rate))) {
                shut(w, s);
                slow_b++;
            }
        }
        w->st.slow_headers += (uint64_t)slow_h;
        w->st.slow_body += (uint64_t)slow_b;
        if (slow_h || slow_b) {
            pthread_mutex_unlock(&w->mu);
            if (slow_h)
                log_line(&w->log, "closed %d connection(s) whose headers took over %.0f s", slow_h,
                         w->o.header_timeout);
            if (slow_b)
                log_line(&w->log,
                         "closed %d connection(s) whose body passed its deadline of %.0f s or fell "
                         "under %.0f bytes/s",
                         slow_b, w->o.body_timeout, w->o.min_rate);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int connwatch_create(const connwatch_opts_t *o, const log_sink_t *log, connwatch_t **out) {
    *out = NULL;
    connwatch_t *w = calloc(1, sizeof *w);
    if (!w) return IMG_ENOMEM;
    w->o = *o;
    if (log) w->log = *log;
    w->nslots = o->max_connections + CONNWATCH_RESERVE;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    if (!w->slots) {
        free(w);
        return IMG_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->reaper, NULL, reap, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w->slots);
        free(w);
        return IMG_ENOMEM;
    }
    *out = w;
    return IMG_OK;
}

void connwatch_free(connwatch_t *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->reaper, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->slots);
    free(w);
}

void connwatch_stats(connwatch_t *w, connwatch_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}
