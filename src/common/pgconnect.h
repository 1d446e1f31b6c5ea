/* pgconnect.h - how imgapi opens a PostgreSQL connection (the store's pool and the job queue). */
#ifndef IMGAPI_COMMON_PGCONNECT_H
#define IMGAPI_COMMON_PGCONNECT_H
#include <libpq-fe.h>

/* Connects to conninfo (a postgres:// URL or key=value string) as application `app`, with a 5 s
 * connect timeout and TCP keepalives and a user timeout that notice a dead server or a cut
 * network in about 10 s; settings in conninfo override these. Notices are dropped (libraries
 * do not print). Returns the connection even when it failed, so that the caller can read
 * PQerrorMessage; the caller checks PQstatus and PQfinish's it (NULL only when out of memory). */
PGconn *pgc_open(const char *conninfo, const char *app);

#endif
