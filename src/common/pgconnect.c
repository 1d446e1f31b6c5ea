/* pgconnect.c - imgapi's PostgreSQL connection settings, in one place. */
#include "common/pgconnect.h"

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

PGconn *pgc_open(const char *conninfo, const char *app) {
    /* ours first, so that the connection string (expanded from dbname) overrides them */
    const char *keys[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
    const char *vals[] = {"5", app, "5", "2", "3", "10000", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1); /* owned by the caller */
    if (c && PQstatus(c) == CONNECTION_OK) PQsetNoticeProcessor(c, ignore_notice, NULL);
    return c;
}
