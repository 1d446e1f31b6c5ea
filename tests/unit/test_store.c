/* test_store.c - the SQLite store: keys, the ledger invariant, idempotency, orphan release. */
#include "common/status.h"
#include "store/store.h"
#include "tests/unit/harness.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static store_t *open_tmp(char *path) {
    strcpy(path, "/tmp/imgapi-store-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    store_t *s = NULL;
    char err[256];
    CHECK(store_open(path, 1000, &s, err, sizeof err) == IMG_OK);
    return s;
}

static void drop_tmp(store_t *s, char *path) {
    store_close(s);
    char p[300];
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
    char path[64];
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
    char path[64];
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
    int64_t reqs, imgs;
    CHECK(store_usage_count(s, id, &reqs, &imgs) == IMG_OK && reqs == 1 && imgs == 1);
    drop_tmp(s, path);
}

void test_store_idempotency(void) {
    char path[64];
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
    char path[64];
    store_t *s = open_tmp(path);
    store_key_t t = {.granted = 100000};
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    CHECK(store_key_create(s, &t, id, secret) == IMG_OK);
    CHECK(store_reserve(s, id, "j1", 10000) == IMG_OK);
    CHECK(store_reserve(s, id, "j2", 20000) == IMG_OK);
    store_close(s); /* the "process" dies with reservations held */
    char err[256];
    CHECK(store_open(path, 1000, &s, err, sizeof err) == IMG_OK);
    int n = 0;
    CHECK(store_release_orphans(s, &n) == IMG_OK && n == 2);
    store_key_t k;
    CHECK(store_key_get(s, id, &k) == IMG_OK && k.balance == 100000 && k.reserved == 0);
    check_invariant(s, id);
    drop_tmp(s, path);
}
