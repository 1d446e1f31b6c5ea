/* test_store.c - the store: keys, the ledger invariant, idempotency, orphan release,
 * asynchronous requests, webhooks. Runs on a temporary SQLite file, or, when IMGAPI_TEST_PG
 * names a PostgreSQL database (tests/run_all.sh starts one), on a freshly emptied schema there:
 * the same tests for both backends. */
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "tests/unit/harness.h"
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define PATH_LEN 512

static store_t *reopen(const char *path) {
    store_t *s = NULL;
    char err[256];
    int rc = store_open(path, 1000, &s, err, sizeof err);
    if (rc) fprintf(stderr, "store_open: %s\n", err);
    CHECK(rc == IMG_OK);
    return s;
}

static void pg_sql(const char *url, const char *sql) {
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

/* Empties the test database: every test starts from the migrations. */
static void pg_reset(const char *url) {
    pg_sql(url,
           "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

static store_t *open_tmp(char *path) {
    const char *pg = getenv("IMGAPI_TEST_PG");
    if (pg && *pg) {
        snprintf(path, PATH_LEN, "%s", pg);
        pg_reset(path);
    } else {
        strcpy(path, "/tmp/imgapi-store-XXXXXX");
        int fd = mkstemp(path);
        close(fd);
    }
    return reopen(path);
}

static void drop_tmp(store_t *s, char *path) {
    store_close(s);
    if (strncmp(path, "postgres", 8) == 0) return;
    char p[PATH_LEN + 8];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void check_invariant(store_t *s, const char *id) {
    store_key_t k;
    CHECK(store_key_get(s, id, &k) == IMG_OK);
    CHECK_EQ_INT(k.granted, k.balance + k.reserved + k.charged);
}

void test_store_keys(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 5000000, .rpm = 10, .concurrency = 2};
    strcpy(t.models, "a,b");
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    CHECK(strncmp(secret, "sk-", 3) == 0 && strlen(secret) == STORE_SECRET_LEN);
    store_key_t k;
    CHECK(store_key_authenticate(s, secret, &k) == IMG_OK);
    CHECK(strcmp(k.id, id) == 0 && k.balance == 5000000 && k.rpm == 10 && k.concurrency == 2);
    CHECK(store_key_allows(&k, "a") && store_key_allows(&k, "b") && !store_key_allows(&k, "c"));
    CHECK(!store_key_allows(&k, "ab"));
    /* a wrong secret with the right id, a malformed one, an unknown one */
    char bad[STORE_SECRET_LEN + 1];
    strcpy(bad, secret);
    bad[STORE_SECRET_LEN - 1] = bad[STORE_SECRET_LEN - 1] == '0' ? '1' : '0';
    CHECK(store_key_authenticate(s, bad, &k) == IMG_ENOTFOUND);
    CHECK(store_key_authenticate(s, "sk-short", &k) == IMG_ENOTFOUND);
    CHECK(store_key_authenticate(s, "", &k) == IMG_ENOTFOUND);
    /* the secret is not stored: no column holds it */
    CHECK(store_key_get(s, secret, &k) == IMG_OK && strcmp(k.id, id) == 0);
    CHECK(store_key_revoke(s, id) == IMG_OK);
    CHECK(store_key_authenticate(s, secret, &k) == IMG_EDENIED);
    CHECK(store_key_revoke(s, "key_doesnotexist00") == IMG_ENOTFOUND);
    store_key_t *list;
    size_t n;
    CHECK(store_key_list(s, &list, &n) == IMG_OK && n == 1);
    free(list);
    drop_tmp(s, path);
}

void test_store_ledger(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 100000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    CHECK(store_reserve(s, id, "job1", 36000) == IMG_OK);
    CHECK(store_reserve(s, id, "job2", 36000) == IMG_OK);
    CHECK(store_reserve(s, id, "job3", 36000) == IMG_ECREDITS);
    check_invariant(s, id);
    store_usage_t u = {.key_id = id,
                       .request_id = "job1",
                       .route = "r",
                       .model = "m",
                       .quality = "high",
                       .size = "1024x1024",
                       .n = 1};
    CHECK(store_charge(s, "job1", &u, NULL, 0, NULL) == IMG_OK);
    CHECK(store_charge(s, "job1", &u, NULL, 0, NULL) == IMG_ENOTFOUND); /* never twice */
    CHECK(store_release(s, "job2") == IMG_OK);
    CHECK(store_release(s, "job2") == IMG_ENOTFOUND);
    store_key_t k;
    CHECK(store_key_get(s, id, &k) == IMG_OK);
    CHECK_EQ_INT(k.balance, 64000);
    CHECK_EQ_INT(k.charged, 36000);
    CHECK_EQ_INT(k.reserved, 0);
    check_invariant(s, id);
    CHECK(store_credits_grant(s, id, 1000000) == IMG_OK);
    CHECK(store_credits_grant(s, "key_nope", 1) == IMG_ENOTFOUND);
    check_invariant(s, id);
    /* the ledger's bound: a key's granted total never passes STORE_MAX_GRANTED_MICRO */
    CHECK(store_key_get(s, id, &k) == IMG_OK);
    CHECK(store_credits_grant(s, id, STORE_MAX_GRANTED_MICRO) == IMG_ERANGE);
    CHECK(store_credits_grant(s, id, INT64_MAX) == IMG_ERANGE);
    CHECK(store_credits_grant(s, id, -1) == IMG_EINVAL);
    CHECK(store_credits_grant(s, id, STORE_MAX_GRANTED_MICRO - k.granted) == IMG_OK);
    CHECK(store_credits_grant(s, id, 1) == IMG_ERANGE);
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.granted == STORE_MAX_GRANTED_MICRO);
    CHECK(store_reserve(s, id, "big", INT64_MAX) == IMG_ECREDITS);
    CHECK(store_reserve(s, id, "job4", 5000) == IMG_OK && store_charge(s, "job4", NULL, NULL, 0, NULL) == IMG_OK);
    check_invariant(s, id);
    store_key_t huge = {.granted = STORE_MAX_GRANTED_MICRO + 1};
    CHECK(store_key_create(s, &huge, id, secret) == IMG_ERANGE);
    int64_t reqs, imgs;
    CHECK(store_usage_count(s, id, &reqs, &imgs) == IMG_OK && reqs == 1 && imgs == 1);
    drop_tmp(s, path);
}

void test_store_idempotency(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_idem_t rec;
    CHECK(store_idem_begin(s, "key_a", "k1", "h1", 1000, 100, &rec) == IMG_OK);
    CHECK(store_idem_begin(s, "key_a", "k1", "h1", 1001, 100, &rec) == IMG_EEXIST);
    CHECK(rec.status == 0 && rec.body == NULL);
    CHECK(store_idem_begin(s, "key_a", "k1", "h2", 1001, 100, &rec) == IMG_EINVAL);
    free(rec.body);
    CHECK(store_idem_begin(s, "key_b", "k1", "h2", 1001, 100, &rec) == IMG_OK); /* other key */
    CHECK(store_idem_finish(s, "key_a", "k1", 406, "{\"e\":1}") == IMG_OK);
    CHECK(store_idem_begin(s, "key_a", "k1", "h1", 1002, 100, &rec) == IMG_EEXIST);
    CHECK(rec.status == 406 && rec.body && strcmp(rec.body, "{\"e\":1}") == 0);
    free(rec.body);
    /* expiry */
    CHECK(store_idem_begin(s, "key_a", "k1", "h1", 1100, 100, &rec) == IMG_OK);
    CHECK(store_idem_abandon(s, "key_a", "k1") == IMG_OK);
    CHECK(store_idem_begin(s, "key_a", "k1", "h1", 1101, 100, &rec) == IMG_OK);
    drop_tmp(s, path);
}

void test_store_orphans(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 100000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    CHECK(store_reserve(s, id, "j1", 10000) == IMG_OK);
    CHECK(store_reserve(s, id, "j2", 20000) == IMG_OK);
    store_close(s); /* the "process" dies with reservations held */
    s = reopen(path);
    int n = 0;
    CHECK(store_release_orphans(s, &n) == IMG_OK && n == 2);
    store_key_t k;
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.balance == 100000 && k.reserved == 0);
    check_invariant(s, id);
    drop_tmp(s, path);
}

static void areq_row(store_areq_t *a, const char *id, const char *key, int64_t created,
                     int64_t ttl) {
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->key_id, sizeof a->key_id, "%s", key);
    strcpy(a->model, "m");
    strcpy(a->route, "v2_model");
    a->body = (char *)"{\"prompt\":\"x\"}";
    a->seed = 42;
    a->cost = 1000;
    a->created = created;
    a->ttl = ttl;
}

void test_store_async_requests(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 10000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    const int64_t now = 1000000;
    store_areq_t a, got;
    /* queued -> processing -> completed: charged once, output kept, then expired */
    CHECK(store_reserve(s, id, "r1", 1000) == IMG_OK);
    areq_row(&a, "r1", id, now, 60);
    CHECK(store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_areq_get(s, "r1", now, 1, &got) == IMG_OK);
    CHECK(got.status == AREQ_QUEUED && got.seed == 42 && got.body &&
          strcmp(got.body, a.body) == 0 && !got.output);
    store_areq_clear(&got);
    CHECK(store_areq_start(s, "r1") == IMG_OK);
    CHECK(store_areq_start(s, "r1") == IMG_ENOTFOUND);
    CHECK(store_areq_get(s, "r1", now + 100, 0, &got) == IMG_OK &&
          got.status == AREQ_PROCESSING); /* runs past expiry */
    CHECK(store_areq_cancel(s, "r1", id, now) == IMG_EBUSY);
    store_usage_t u = {.key_id = id,
                       .request_id = "r1",
                       .route = "v2_model",
                       .model = "m",
                       .quality = "low",
                       .size = "1024x1024",
                       .n = 1,
                       .cost = 1000};
    CHECK(store_areq_complete(s, "r1", &u, "{\"data\":[]}", 1.5, now + 10, NULL) == IMG_OK);
    CHECK(store_areq_complete(s, "r1", &u, "{\"data\":[]}", 1.5, now + 10, NULL) ==
          IMG_ENOTFOUND); /* never twice */
    CHECK(store_areq_get(s, "r1", now + 69, 1, &got) == IMG_OK);
    CHECK(got.status == AREQ_COMPLETED && got.output && strcmp(got.output, "{\"data\":[]}") == 0 &&
          got.inference_time == 1.5);
    store_areq_clear(&got);
    CHECK(store_areq_get(s, "r1", now + 70, 0, &got) == IMG_ENOTFOUND);
    store_key_t k;
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.charged == 1000 && k.reserved == 0);
    /* cancel: only the owner, only while queued; the reservation goes back */
    CHECK(store_reserve(s, id, "r2", 2000) == IMG_OK);
    areq_row(&a, "r2", id, now, 60);
    CHECK(store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_areq_cancel(s, "r2", "key_someoneelse0000", now) == IMG_ENOTFOUND);
    CHECK(store_areq_cancel(s, "nope", id, now) == IMG_ENOTFOUND);
    CHECK(store_areq_cancel(s, "r2", id, now) == IMG_OK);
    CHECK(store_areq_cancel(s, "r2", id, now) == IMG_EBUSY);
    CHECK(store_areq_get(s, "r2", now, 0, &got) == IMG_OK && got.status == AREQ_FAILED &&
          strcmp(got.error_code, "request_cancelled") == 0);
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.reserved == 0 && k.balance == 9000);
    /* failure releases; a failure after expiry leaves it expired */
    CHECK(store_reserve(s, id, "r3", 500) == IMG_OK);
    areq_row(&a, "r3", id, now, 60);
    CHECK(store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_areq_fail(s, "r3", "request_expired", "expired", 0, now + 61, NULL) == IMG_OK);
    CHECK(store_areq_get(s, "r3", now + 61, 0, &got) == IMG_ENOTFOUND);
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.reserved == 0 && k.balance == 9000);
    check_invariant(s, id);
    /* restart: processing ones fail and are released, queued ones keep their reservation */
    CHECK(store_reserve(s, id, "q1", 100) == IMG_OK);
    areq_row(&a, "q1", id, now, 60);
    CHECK(store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_reserve(s, id, "p1", 200) == IMG_OK);
    areq_row(&a, "p1", id, now + 1, 60);
    CHECK(store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_areq_start(s, "p1") == IMG_OK);
    CHECK(store_reserve(s, id, "sync", 300) == IMG_OK);
    store_close(s); /* the process stops, another starts */
    s = reopen(path);
    int n = 0;
    CHECK(store_release_orphans(s, &n) == IMG_OK && n == 2);
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.reserved == 100);
    CHECK(store_areq_get(s, "p1", clock_wall(), 0, &got) == IMG_OK && got.status == AREQ_FAILED);
    store_areq_t *queued;
    size_t nq;
    CHECK(store_areq_queued(s, &queued, &nq) == IMG_OK && nq == 1 &&
          strcmp(queued[0].id, "q1") == 0 && queued[0].body && queued[0].seed == 42);
    store_areq_clear(&queued[0]);
    free(queued);
    /* the sweep deletes what expired and returns what it still held */
    CHECK(store_areq_sweep(s, now + 10, &n) == IMG_OK && n == 0);
    CHECK(store_areq_sweep(s, now + 61, &n) == IMG_OK && n == 3); /* r2, r3, q1 */
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.reserved == 0 && k.charged == 1000);
    CHECK(store_areq_get(s, "q1", now, 0, &got) == IMG_ENOTFOUND);
    check_invariant(s, id);
    drop_tmp(s, path);
}

void test_store_webhooks(void) {
    char path[PATH_LEN];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 10000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    char url[512], s1[STORE_HOOK_SECRET_LEN + 1], s2[STORE_HOOK_SECRET_LEN + 1];
    CHECK(store_hook_key_get(s, "key_nosuchkey000000", url, sizeof url, s1) == IMG_ENOTFOUND);
    CHECK(store_hook_key_get(s, id, url, sizeof url, s1) == IMG_OK && !url[0] &&
          strlen(s1) == STORE_HOOK_SECRET_LEN);
    CHECK(store_hook_key_get(s, id, url, sizeof url, s2) == IMG_OK &&
          strcmp(s1, s2) == 0); /* stable */
    CHECK(store_hook_key_set(s, id, "http://example.com/h", 0) == IMG_OK);
    CHECK(store_hook_key_get(s, id, url, sizeof url, s2) == IMG_OK &&
          !strcmp(url, "http://example.com/h") && !strcmp(s1, s2));
    CHECK(store_hook_key_set(s, id, NULL, 1) == IMG_OK);
    CHECK(store_hook_key_get(s, id, url, sizeof url, s2) == IMG_OK &&
          !strcmp(url, "http://example.com/h") && strcmp(s1, s2) != 0);
    /* a finished request with a webhook queues one delivery in the same transaction */
    const int64_t now = 2000000;
    store_areq_t a;
    areq_row(&a, "w1", id, now, 60);
    strcpy(a.webhook_url, "http://example.com/r");
    CHECK(store_reserve(s, id, "w1", 100) == IMG_OK && store_areq_insert(s, &a) == IMG_OK);
    areq_row(&a, "w2", id, now, 60); /* no webhook: nothing queued */
    CHECK(store_reserve(s, id, "w2", 100) == IMG_OK && store_areq_insert(s, &a) == IMG_OK);
    CHECK(store_areq_fail(s, "w1", "generation_failed", "x", 0, now, "{\"status\":\"FAILED\"}") ==
          IMG_OK);
    CHECK(store_areq_fail(s, "w2", "generation_failed", "x", 0, now, "{\"status\":\"FAILED\"}") ==
          IMG_OK);
    store_hook_t *h;
    size_t n;
    CHECK(store_hook_due(s, (double)now - 1, 10, &h, &n) == IMG_OK && n == 0);
    store_hook_free(h, n);
    CHECK(store_hook_due(s, (double)now, 10, &h, &n) == IMG_OK && n == 1);
    CHECK(!strcmp(h[0].request_id, "w1") && !strcmp(h[0].url, "http://example.com/r") &&
          h[0].body && !strcmp(h[0].body, "{\"status\":\"FAILED\"}") && h[0].attempts == 0);
    int64_t hid = h[0].id;
    store_hook_free(h, n);
    CHECK(store_hook_result(s, hid, 0, 500, "HTTP 500", (double)now + 5) ==
          IMG_OK); /* retry later */
    CHECK(store_hook_due(s, (double)now + 4, 10, &h, &n) == IMG_OK && n == 0);
    store_hook_free(h, n);
    CHECK(store_hook_result(s, hid, 0, 0, "refused", -1) == IMG_OK);  /* given up */
    CHECK(store_hook_result(s, hid, 1, 200, "", 0) == IMG_ENOTFOUND); /* over: no more attempts */
    CHECK(store_hook_due(s, (double)now + 100, 10, &h, &n) == IMG_OK && n == 0);
    store_hook_free(h, n);
    CHECK(store_hook_list(s, id, &h, &n) == IMG_OK && n == 1 && h[0].status == HOOK_GAVE_UP &&
          h[0].attempts == 2 && h[0].last_http == 0 && !strcmp(h[0].last_error, "refused") &&
          !h[0].body);
    store_hook_free(h, n);
    CHECK(store_hook_list(s, "key_other0000000000", &h, &n) == IMG_OK && n == 0);
    store_hook_free(h, n);
    check_invariant(s, id);
    drop_tmp(s, path);
}

/* PostgreSQL only (IMGAPI_TEST_PG): several processes share one database. */
typedef struct {
    store_t *s;
    const char *key;
    int id, ok;
    char first[32]; /* the first job it reserved ("" none) */
} reserver_t;

static void *reserve_many(void *arg) {
    reserver_t *r = arg;
    for (int i = 0; i < 25; i++) {
        char job[32];
        snprintf(job, sizeof job, "t%d-%d", r->id, i);
        if (store_reserve(r->s, r->key, job, 1000) == IMG_OK && !r->ok++)
            snprintf(r->first, sizeof r->first, "%s", job);
    }
    return NULL;
}

void test_store_pg_shared(void) {
    char path[PATH_LEN];
    store_t *a = open_tmp(path), *b = reopen(path); /* two gateways */
    store_key_t t = {.granted = 60000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(a, &t, id, secret) == IMG_OK);
    store_key_t k;
    CHECK(store_key_authenticate(b, secret, &k) == IMG_OK && k.balance == 60000);
    /* 4 threads on two stores race for 100 reservations: exactly 60 fit, none twice */
    reserver_t r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reserver_t){.s = i % 2 ? b : a, .key = id, .id = i, .first = ""};
        pthread_create(&th[i], NULL, reserve_many, &r[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].ok;
    }
    CHECK_EQ_INT(ok, 60);
    CHECK(store_key_get(b, id, &k) == IMG_OK && k.balance == 0 && k.reserved == 60000);
    /* settling from the other gateway: once (a job that won a reservation: which threads won
     * depends on how they were scheduled) */
    const char *won = "";
    for (int i = 0; i < 4 && !*won; i++)
        won = r[i].first;
    CHECK(store_charge(b, won, NULL, NULL, 0, NULL) == IMG_OK);
    CHECK(store_release(a, won) == IMG_ENOTFOUND);
    /* a live gateway's holdings are not orphans for another */
    int n = -1;
    CHECK(store_release_orphans(b, &n) == IMG_OK && n == 0);
    store_idem_t rec;
    CHECK(store_idem_begin(a, id, "idem", "h", clock_wall(), 100, &rec) == IMG_OK);
    CHECK(store_idem_begin(b, id, "idem", "h", clock_wall(), 100, &rec) == IMG_EEXIST);
    free(rec.body);
    /* every heartbeat stops (a and b look dead): the first sweep returns everything once */
    pg_sql(path, "UPDATE instances SET heartbeat = heartbeat - 1000");
    CHECK(store_release_orphans(b, &n) == IMG_OK && n == 59);
    CHECK(store_release_orphans(a, &n) == IMG_OK && n == 0);
    CHECK(store_charge(a, "t1-0", NULL, NULL, 0, NULL) == IMG_ENOTFOUND); /* charged or released */
    CHECK(store_idem_begin(b, id, "idem", "h", clock_wall(), 100, &rec) == IMG_OK);
    CHECK(store_key_get(a, id, &k) == IMG_OK && k.balance == 59000 && k.reserved == 0 &&
          k.charged == 1000);
    check_invariant(a, id);
    /* a newer schema than this binary knows is refused, not written to */
    pg_sql(path, "INSERT INTO schema_migrations VALUES(999, 0)");
    store_t *c = NULL;
    char err[256];
    CHECK(store_open(path, 1000, &c, err, sizeof err) == IMG_EUNSUPPORTED && strstr(err, "999"));
    store_close(b);
    drop_tmp(a, path);
}
