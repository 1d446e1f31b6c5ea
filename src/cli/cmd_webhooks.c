/* cmd_webhooks.c - `imgapi keys webhook` (a key's webhook URL and signing secret) and
 * `imgapi webhooks log` (the delivery log). */
#include "cli/cli.h"
#include "common/status.h"
#include "store/store.h"
#include "webhook/guard.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The options of `imgapi webhooks`. */
static const cli_opt_t WEBHOOKS_OPTS[] = {
    {"key", 0, "KEY_OR_ID", "log", NULL, NULL, "only the deliveries of this key"},
};
const cli_opts_t CLI_WEBHOOKS_OPTS = {WEBHOOKS_OPTS, 1};

int keys_webhook(int argc, char **argv) {
    config_t cfg;
    config_defaults(&cfg);
    const char *vals[KEYS_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_KEYS_OPTS, "webhook", &cfg, vals, pos, &npos, 1);
    if (rc) return rc;
    if (npos != 1 || (vals[KEYS_ROTATE_SECRET] && strcmp(vals[KEYS_ROTATE_SECRET], "0") &&
                      strcmp(vals[KEYS_ROTATE_SECRET], "1"))) {
        return cli_usage_error("keys");
    }
    const char *url = vals[KEYS_URL] && !strcmp(vals[KEYS_URL], "none") ? "" : vals[KEYS_URL];
    char reason[160];
    if (url && *url && guard_check_url(url, cfg.webhook_allow_private, reason, sizeof reason)) {
        fprintf(stderr, "imgapi: %s\n", reason);
        return 2;
    }
    store_t *s;
    if (cli_open_store(&cfg, &s)) return 1;
    store_key_t k;
    rc = store_key_get(s, pos[0], &k);
    if (rc == IMG_OK &&
        (url || (vals[KEYS_ROTATE_SECRET] && !strcmp(vals[KEYS_ROTATE_SECRET], "1"))))
        rc = store_hook_key_set(s, k.id, url,
                                vals[KEYS_ROTATE_SECRET] && !strcmp(vals[KEYS_ROTATE_SECRET], "1"));
    char cur[WEBHOOK_URL_MAX + 1], secret[STORE_HOOK_SECRET_LEN + 1];
    if (rc == IMG_OK) rc = store_hook_key_get(s, k.id, cur, sizeof cur, secret);
    store_close(s);
    if (rc == IMG_ENOTFOUND) {
        fprintf(stderr, "imgapi: no such key: %s\n", pos[0]);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "imgapi: cannot update the webhook: %s\n", img_status_str(rc));
        return 1;
    }
    printf("id: %s\nwebhook_url: %s\nsecret: %s\n", k.id, cur[0] ? cur : "(none)", secret);
    return 0;
}

static int webhooks_log(int argc, char **argv) {
    config_t cfg;
    config_defaults(&cfg);
    const char *vals[1];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_WEBHOOKS_OPTS, "log", &cfg, vals, pos, &npos, 0);
    if (rc) return rc;
    store_t *s;
    if (cli_open_store(&cfg, &s)) return 1;
    store_key_t k;
    if (vals[0] && (rc = store_key_get(s, vals[0], &k))) {
        store_close(s);
        fprintf(stderr, "imgapi: no such key: %s\n", vals[0]);
        return 1;
    }
    store_hook_t *h;
    size_t n;
    rc = store_hook_list(s, vals[0] ? k.id : NULL, &h, &n);
    store_close(s);
    if (rc) {
        fprintf(stderr, "imgapi: cannot read the delivery log: %s\n", img_status_str(rc));
        return 1;
    }
    static const char *const STATE[] = {"pending", "delivered", "gave_up"};
    printf("%-8s %-36s %-20s %-9s %8s %5s  %s\n", "id", "request", "key", "state", "attempts",
           "http", "url / last error");
    for (size_t i = 0; i < n; i++)
        printf("%-8lld %-36s %-20s %-9s %8d %5d  %s%s%s\n", (long long)h[i].id, h[i].request_id,
               h[i].key_id, STATE[h[i].status >= 0 && h[i].status <= 2 ? h[i].status : 0],
               h[i].attempts, h[i].last_http, h[i].url, h[i].last_error[0] ? " / " : "",
               h[i].last_error);
    store_hook_free(h, n);
    return 0;
}

int cmd_webhooks(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    if (argc >= 2 && !strcmp(argv[1], "log")) return webhooks_log(argc - 1, argv + 1);
    return cli_usage_error("webhooks");
}
