/* connwatch.h - keeps slow or greedy clients from holding the server's connection slots.
 *
 * libmicrohttpd restarts its idle timeout at every byte, so on its own a client that sends one
 * header line every few seconds holds a slot forever. The watch sees every connection from
 * accept to close (MHD's accept-policy and connection-notify callbacks) and:
 * - gives the header phase a total deadline (header_timeout_seconds from accept);
 * - gives the body a total deadline and a minimum average rate after a grace period;
 * - caps the connections of one client address;
 * - when the server or an address is at its cap, makes room by closing that scope's oldest
 *   connection still sending its headers, so a client that sends a whole request at once
 *   (/healthz, /metrics, a real API call) is always served; only when every slot holds a
 *   request past its headers is a new connection refused.
 * A watched connection is closed by shutting its socket down; MHD then ends it as a client
 * abort. Thread-safe; the reaper is one thread that wakes every 100 ms. */
#ifndef IMGAPI_SERVER_CONNWATCH_H
#define IMGAPI_SERVER_CONNWATCH_H
#include "common/log.h"
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct connwatch connwatch_t;

typedef struct {
    int max_connections;        /* connections admitted at once (the MHD limit adds a reserve) */
    int max_connections_per_ip; /* connections of one client address; 0 = no cap */
    double header_timeout;      /* seconds from accept to the end of the headers */
    double body_timeout;        /* seconds from the end of the headers to the end of the body */
    double min_rate;            /* bytes/second a body must average once past the grace period */
    double min_rate_grace;      /* seconds before the rate is checked */
} connwatch_opts_t;

/* Extra MHD slots beyond max_connections for connections already closed by the watch whose
 * cleanup MHD has not finished, so that closing to make room never fails at MHD's own limit. */
#define CONNWATCH_RESERVE 32

/* Starts the watch (and its reaper thread). *out is owned by the caller: connwatch_free. */
int connwatch_create(const connwatch_opts_t *o, const log_sink_t *log, connwatch_t **out);
/* Stops the reaper and frees the watch; call after MHD_stop_daemon. NULL is a no-op. */
void connwatch_free(connwatch_t *w);

/* The callbacks to hand to MHD (cls = the watch). */
enum MHD_Result connwatch_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void connwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* A kept-alive connection's next request line has arrived (MHD's URI log callback). */
void connwatch_request_line(connwatch_t *w, struct MHD_Connection *c);
/* The request's headers are complete (the access handler's first call). */
void connwatch_headers_done(connwatch_t *w, struct MHD_Connection *c);
/* n more body bytes arrived. */
void connwatch_body_bytes(connwatch_t *w, struct MHD_Connection *c, size_t n);
/* The whole request has arrived: from here the connection is the handler's (no deadline). */
void connwatch_request_done(connwatch_t *w, struct MHD_Connection *c);

/* The answer has gone out; the connection waits for the next request (keep-alive). */
void connwatch_request_completed(connwatch_t *w, struct MHD_Connection *c);

/* Counters for /metrics: connections closed for slow headers, slow bodies, and to make room,
 * and connections refused. */
typedef struct {
    uint64_t slow_headers, slow_body, evicted, refused;
    int open, open_max;
} connwatch_stats_t;
void connwatch_stats(connwatch_t *w, connwatch_stats_t *out);

#endif
