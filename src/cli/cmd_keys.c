/* cmd_keys.c - `imgapi keys create|list|revoke` and `imgapi credits add|show` (`keys webhook`
 * is in cmd_webhooks.c). */
#include "api/pricing.h"
#include "cli/cli.h"
#include "common/status.h"
#include "store/store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usd(int64_t micro, char *out) { price_format_usd(micro, out, 32); }

static int parse_int_opt(const char *name, const char *v, int *out) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v) return 0;
    if (end == v || *end || x < 0 || x > 100000000) {
        fprintf(stderr, "imgapi: --%s must be a non-negative integer\n", name);
        return 2;
    }
    *out = (int)x;
    return 0;
}

/* The options of `imgapi keys`, in the order of the KEYS_* enum (cli.h). */
static const cli_opt_t KEYS_OPTS[KEYS_NOPTS] = {
    {"credits", 0, "USD", "create", NULL, NULL, "dollars granted to the key (default 0)"},
    {"rpm", 0, "N", "create", NULL, NULL, "requests per minute (0: the server's default)"},
    {"concurrency", 0, "N", "create", NULL, NULL, "requests at once (0: the server's default)"},
    {"models", 0, "a,b", "create", NULL, NULL, "the models the key may use (default all)"},
    {"url", 0, "URL|none", "webhook", NULL, NULL, "where async results are posted"},
    {"rotate-secret", 0, "1", "webhook", NULL, NULL, "a new signing secret (shown once)"},
};
const cli_opts_t CLI_KEYS_OPTS = {KEYS_OPTS, KEYS_NOPTS};

static int keys_create(int argc, char **argv) {
    config_t cfg;
    config_defaults(&cfg);
    const char *vals[KEYS_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_KEYS_OPTS, "create", &cfg, vals, pos, &npos, 0);
    if (rc) return rc;
    store_key_t k = {0};
    if (vals[KEYS_CREDITS] && price_parse_usd(vals[KEYS_CREDITS], &k.granted)) {
        fprintf(stderr, "imgapi: --credits must be a dollar amount such as 10 or 2.50\n");
        return 2;
    }
    if ((rc = parse_int_opt("rpm", vals[KEYS_RPM], &k.rpm)) ||
        (rc = parse_int_opt("concurrency", vals[KEYS_CONCURRENCY], &k.concurrency)))
        return rc;
    if (vals[KEYS_MODELS]) snprintf(k.models, sizeof k.models, "%s", vals[KEYS_MODELS]);
    store_t *s;
    if (cli_open_store(&cfg, &s)) return 1;
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1], g[32];
    rc = store_key_create(s, &k, id, secret);
    store_close(s);
    if (rc) {
        fprintf(stderr, "imgapi: cannot create the key: %s\n", img_status_str(rc));
        return 1;
    }
    usd(k.granted, g);
    printf("id: %s\ncredits: %s USD\nThe key is shown once; store it now:\n%s\n", id, g, secret);
    return 0;
}

static int keys_list(int argc, char **argv) {
    config_t cfg;
    config_defaults(&cfg);
    const char *pos[1], *vals[KEYS_NOPTS];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_KEYS_OPTS, "list", &cfg, vals, pos, &npos, 0);
    if (rc) return rc;
    store_t *s;
    if (cli_open_store(&cfg, &s)) return 1;
    store_key_t *keys;
    size_t n;
    rc = store_key_list(s, &keys, &n);
    store_close(s);
    if (rc) {
        fprintf(stderr, "imgapi: cannot list keys: %s\n", img_status_str(rc));
        return 1;
    }
    printf("%-20s %-8s %14s %14s %14s %6s %6s %s\n", "ID", "STATE", "BALANCE", "RESERVED", "CHARGED",
           "RPM", "CONC", "MODELS");
    for (size_t i = 0; i < n; i++) {
        char b[32], r[32], c[32];
        usd(keys[i].balance, b);
        usd(keys[i].reserved, r);
        usd(keys[i].charged, c);
        printf("%-20s %-8s %14s %14s %14s %6d %6d %s\n", keys[i].id,
               keys[i].revoked ? "revoked" : "active", b, r, c, keys[i].rpm, keys[i].concurrency,
               keys[i].models[0] ? keys[i].models : "*");
    }
    free(keys);
    return 0;
}

static int key_action(int argc, char **argv, const char *what) {
    config_t cfg;
    config_defaults(&cfg);
    const char *pos[2];
    int npos;
    int want = !strcmp(what, "add") ? 2 : 1;
    const char *vals[KEYS_NOPTS];
    int revoke = !strcmp(what, "revoke");
    int rc = cli_parse(argc, argv, revoke ? &CLI_KEYS_OPTS : &CLI_NO_OPTS, revoke ? "revoke" : NULL,
                       &cfg, vals, pos, &npos, want);
    if (rc) return rc;
    if (npos != want) return cli_usage_error(revoke ? "keys" : "credits");
    int64_t micro = 0;
    if (want == 2 && price_parse_usd(pos[1], &micro)) {
        fprintf(stderr, "imgapi: '%s' is not a dollar amount\n", pos[1]);
        return 2;
    }
    store_t *s;
    if (cli_open_store(&cfg, &s)) return 1;
    if (!strcmp(what, "revoke")) rc = store_key_revoke(s, pos[0]);
    else if (!strcmp(what, "add")) rc = store_credits_grant(s, pos[0], micro);
    store_key_t k;
    if (rc == IMG_OK) rc = store_key_get(s, pos[0], &k);
    int64_t reqs = 0, imgs = 0;
    if (rc == IMG_OK) store_usage_count(s, k.id, &reqs, &imgs);
    store_close(s);
    if (rc == IMG_ENOTFOUND) {
        fprintf(stderr, "imgapi: no such key: %s\n", pos[0]);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "imgapi: %s failed: %s\n", what, img_status_str(rc));
        return 1;
    }
    if (!strcmp(what, "revoke")) {
        printf("revoked %s\n", k.id);
        return 0;
    }
    char g[32], b[32], r[32], c[32];
    usd(k.granted, g);
    usd(k.balance, b);
    usd(k.reserved, r);
    usd(k.charged, c);
    printf("id: %s\nstate: %s\ngranted: %s\nbalance: %s\nreserved: %s\ncharged: %s\nrequests: %lld\n"
           "images: %lld\n",
           k.id, k.revoked ? "revoked" : "active", g, b, r, c, (long long)reqs, (long long)imgs);
    return 0;
}

int cmd_keys(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    if (argc >= 2 && !strcmp(argv[1], "create")) return keys_create(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "list")) return keys_list(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "revoke")) return key_action(argc - 1, argv + 1, "revoke");
    if (argc >= 2 && !strcmp(argv[1], "webhook")) return keys_webhook(argc - 1, argv + 1);
    return cli_usage_error("keys"); /* --help never gets here: cli_main answers it */
}

int cmd_credits(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    if (argc >= 2 && !strcmp(argv[1], "add")) return key_action(argc - 1, argv + 1, "add");
    if (argc >= 2 && !strcmp(argv[1], "show")) return key_action(argc - 1, argv + 1, "show");
    return cli_usage_error("credits");
}
