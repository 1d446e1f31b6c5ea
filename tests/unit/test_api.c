/* test_api.c - request validation (SPEC section 3), error bodies, pricing, base64, config. */
#include "api/error.h"
#include "api/pricing.h"
#include "api/request.h"
#include "common/base64.h"
#include "config/config.h"
#include "server/headers.h"
#include "tests/unit/harness.h"
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int parse(api_route_kind_t k, const char *body, api_request_t *r, api_error_t *e) {
    return api_request_parse(k, body, strlen(body), r, e);
}

/* Expects a 400 naming `param` (or no param when NULL). */
static void expect_400(api_route_kind_t k, const char *body, const char *param) {
    api_request_t r;
    api_error_t e;
    int rc = parse(k, body, &r, &e);
    CHECK(rc == -1);
    if (rc == 0) {
        fprintf(stderr, "  accepted: %s\n", body);
        api_request_free(&r);
        return;
    }
    CHECK_EQ_INT(e.status, 400);
    if (param && strcmp(e.param, param) != 0)
        fprintf(stderr, "  body %s: param '%s', expected '%s' (%s)\n", body, e.param, param, e.message);
    CHECK(param ? strcmp(e.param, param) == 0 : e.param[0] == 0);
    if (param) CHECK(strstr(e.message, param) != NULL);
}

void test_base64_roundtrip(void) {
    uint8_t in[256], out[300];
    for (int i = 0; i < 256; i++) in[i] = (uint8_t)(i * 7);
    for (size_t n = 0; n < 20; n++) {
        char enc[400];
        b64_encode(in, n, enc);
        CHECK_EQ_INT(strlen(enc), b64_encoded_len(n));
        CHECK_EQ_INT(b64_decode(enc, strlen(enc), out), n);
        CHECK(memcmp(in, out, n) == 0);
    }
    char enc[8];
    b64_encode((const uint8_t *)"foo", 3, enc);
    CHECK(strcmp(enc, "Zm9v") == 0);
    CHECK(b64_decode("Zm9", 3, out) == -1);
}

void test_request_defaults_seed(void) {
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_SEED, "{\"prompt\":\"a cat\"}", &r, &e) == 0);
    CHECK_EQ_INT(r.size, SIZE_1024x1024);
    CHECK_EQ_INT(r.quality, QUALITY_HIGH);
    CHECK_EQ_INT(r.moderation, MODERATION_AUTO);
    CHECK_EQ_INT(r.background, BACKGROUND_OPAQUE);
    CHECK_EQ_INT(r.output_compression, 100);
    CHECK_EQ_INT(r.output_format, FORMAT_PNG);
    CHECK_EQ_INT(r.n, 1);
    CHECK(!r.has_seed);
    CHECK(strcmp(r.prompt, "a cat") == 0 && strcmp(r.negative_prompt, "") == 0);
    api_request_free(&r);
}

void test_request_defaults_openai(void) {
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_OPENAI, "{\"prompt\":\"a cat\",\"model\":\"gpt-image-1-mini\",\"seed\":4294967295}", &r, &e) == 0);
    CHECK_EQ_INT(r.size, SIZE_AUTO);
    CHECK_EQ_INT(r.quality, QUALITY_AUTO);
    CHECK_EQ_INT(r.background, BACKGROUND_AUTO);
    CHECK(r.has_seed && r.seed == 4294967295u);
    CHECK(strcmp(r.model, "gpt-image-1-mini") == 0);
    api_request_free(&r);
}

void test_request_types(void) {
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"output_compression\":\"90\"}", "output_compression");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"n\":1.5}", "n");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"n\":1.0}", "n");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"size\":1024}", "size");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":5}", "prompt");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":null}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"stream\":\"yes\"}", "stream");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"seed\":true}", "seed");
}

void test_request_ranges_and_enums(void) {
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"output_compression\":101}", "output_compression");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"output_compression\":-1}", "output_compression");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"n\":0}", "n");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"n\":11}", "n");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"seed\":-1}", "seed");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"seed\":4294967296}", "seed");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"size\":\"512x512\"}", "size");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"quality\":\"ultra\"}", "quality");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"moderation\":\"off\"}", "moderation");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"output_format\":\"gif\"}", "output_format");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"background\":\"auto\"}", "background");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"partial_images\":4}", "partial_images");
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"background\":\"auto\",\"size\":\"1024x1536\","
                                   "\"quality\":\"low\",\"output_format\":\"webp\",\"n\":10,"
                                   "\"output_compression\":0}", &r, &e) == 0);
    CHECK_EQ_INT(r.size, SIZE_1024x1536);
    CHECK_EQ_INT(r.quality, QUALITY_LOW);
    CHECK_EQ_INT(r.output_format, FORMAT_WEBP);
    CHECK_EQ_INT(r.n, 10);
    CHECK_EQ_INT(r.output_compression, 0);
    api_request_free(&r);
}

void test_request_unknown_and_route_fields(void) {
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"style\":\"vivid\"}", "style");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"model\":\"m\"}", "model");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"stream\":false}", "stream");
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"user\":\"u1\",\"stream\":false,\"partial_images\":2}", &r, &e) == 0);
    CHECK(strcmp(r.user, "u1") == 0 && r.partial_images == 2);
    api_request_free(&r);
    /* duplicate keys are rejected (ambiguous) */
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"prompt\":\"y\"}", NULL);
}

void test_request_bad_json_offset(void) {
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_SEED, "{\"prompt\": \"x\",, }", &r, &e) == -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK(strcmp(e.code, "invalid_json") == 0);
    CHECK(strstr(e.message, "byte offset 16") != NULL);
    CHECK(parse(ROUTE_KIND_SEED, "[1,2]", &r, &e) == -1);
    CHECK(strstr(e.message, "object") != NULL);
    CHECK(parse(ROUTE_KIND_SEED, "", &r, &e) == -1);
    CHECK(strstr(e.message, "byte offset") != NULL);
}

void test_request_prompt_rules(void) {
    expect_400(ROUTE_KIND_SEED, "{}", "prompt");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"\"}", "prompt");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"  \\t\\n \"}", "prompt");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"a\\u0000b\"}", "prompt");
    /* 32000 characters (multi-byte) pass; 32001 fail */
    size_t n = 32000;
    char *body = malloc(n * 3 + 64);
    strcpy(body, "{\"prompt\":\"");
    char *p = body + strlen(body);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, "\xc3\xa9", 2); /* e-acute: 2 bytes, 1 character */
        p += 2;
    }
    strcpy(p, "\"}");
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_SEED, body, &r, &e) == 0);
    api_request_free(&r);
    memmove(p + 1, p, 3);
    *p = 'x';
    CHECK(parse(ROUTE_KIND_SEED, body, &r, &e) == -1);
    CHECK(strcmp(e.param, "prompt") == 0);
    free(body);
}

void test_request_transparent_jpeg(void) {
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"background\":\"transparent\",\"output_format\":\"jpeg\"}", "background");
    api_request_t r;
    api_error_t e;
    CHECK(parse(ROUTE_KIND_SEED, "{\"prompt\":\"x\",\"background\":\"transparent\",\"output_format\":\"webp\"}", &r, &e) == 0);
    api_request_free(&r);
}

void test_error_json_shapes(void) {
    api_error_t e;
    api_error_set(&e, 400, "invalid_value", "size", "bad %s", "size");
    char *s = api_error_json(&e, STYLE_SEED);
    json_t *j = json_loads(s, 0, NULL);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "error")), "bad size") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "code")), "invalid_value") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "param")), "size") == 0);
    json_decref(j);
    free(s);
    api_error_set(&e, 401, "invalid_api_key", NULL, "nope");
    s = api_error_json(&e, STYLE_OPENAI);
    j = json_loads(s, 0, NULL);
    json_t *err = json_object_get(j, "error");
    CHECK(err && strcmp(json_string_value(json_object_get(err, "message")), "nope") == 0);
    CHECK(json_is_null(json_object_get(err, "param")));
    CHECK(strcmp(json_string_value(json_object_get(err, "type")), "authentication_error") == 0);
    json_decref(j);
    free(s);
}

void test_pricing(void) {
    price_table_t t;
    price_table_default(&t);
    CHECK_EQ_INT(price_cost(&t, QUALITY_HIGH, SIZE_1024x1024, 1), 36000);
    CHECK_EQ_INT(price_cost(&t, QUALITY_HIGH, SIZE_1536x1024, 2), 104000);
    CHECK_EQ_INT(price_cost(&t, QUALITY_LOW, SIZE_1024x1536, 10), 60000);
    CHECK_EQ_INT(price_cost(&t, QUALITY_MEDIUM, SIZE_1024x1024, 1), 11000);
    int64_t m;
    CHECK(price_parse_usd("12.34", &m) == 0 && m == 12340000);
    CHECK(price_parse_usd("0.000001", &m) == 0 && m == 1);
    CHECK(price_parse_usd("5", &m) == 0 && m == 5000000);
    CHECK(price_parse_usd("0.0000001", &m) == -1);
    CHECK(price_parse_usd("1000000000000", &m) == 0 && m == 1000000000000000000LL);
    CHECK(price_parse_usd("1000000000001", &m) == -1); /* found by fuzz_config: overflowed */
    CHECK(price_parse_usd("9999999999999", &m) == -1);
    CHECK(price_parse_usd("-1", &m) == -1);
    CHECK(price_parse_usd("abc", &m) == -1);
    CHECK(price_parse_usd("", &m) == -1);
    char out[32];
    price_format_usd(36000, out, 32);
    CHECK(strcmp(out, "0.036000") == 0);
    CHECK_EQ_INT(price_output_tokens(QUALITY_HIGH, SIZE_1024x1024), 4160);
}

void test_config_sources(void) {
    config_t c;
    config_defaults(&c);
    char err[256];
    CHECK(strcmp(c.listen, "127.0.0.1:8080") == 0);
    CHECK(config_set(&c, "queue-size", "3", err, sizeof err) == 0 && c.queue_size == 3);
    CHECK(config_set(&c, "queue_size", "0", err, sizeof err) == -1);
    CHECK(config_set(&c, "workers", "x", err, sizeof err) == -1);
    CHECK(config_set(&c, "nope", "1", err, sizeof err) == -1);
    CHECK(config_set(&c, "price.high.1024x1024", "0.5", err, sizeof err) == 0);
    CHECK_EQ_INT(c.prices.micro[QUALITY_HIGH][SIZE_1024x1024], 500000);
    CHECK(config_set(&c, "price.auto.1024x1024", "0.5", err, sizeof err) == -1);
    char path[] = "/tmp/imgapi-cfg-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nworkers = 3\nadmin_token = \"secret\"\n\nlisten=0.0.0.0:9\n");
    fclose(f);
    CHECK(config_load_file(&c, path, err, sizeof err) == 0);
    CHECK(c.workers == 3 && strcmp(c.admin_token, "secret") == 0 && strcmp(c.listen, "0.0.0.0:9") == 0);
    f = fopen(path, "w");
    fprintf(f, "workers 3\n");
    fclose(f);
    CHECK(config_load_file(&c, path, err, sizeof err) == -1 && strstr(err, ":1:"));
    remove(path);
    setenv("IMGAPI_QUEUE_SIZE", "7", 1);
    CHECK(config_load_env(&c, err, sizeof err) == 0 && c.queue_size == 7);
    setenv("IMGAPI_QUEUE_SIZE", "-7", 1);
    CHECK(config_load_env(&c, err, sizeof err) == -1);
    unsetenv("IMGAPI_QUEUE_SIZE");
}

void test_header_values(void) {
    /* API key: x-api-key wins, else Bearer (any case, spaces skipped); empty means absent */
    CHECK(strcmp(hdr_api_key("k1", "Bearer k2"), "k1") == 0);
    CHECK(strcmp(hdr_api_key("", "bearer   k2"), "k2") == 0);
    CHECK(strcmp(hdr_api_key(NULL, "BEARER k3"), "k3") == 0);
    CHECK(hdr_api_key(NULL, "Basic dXNlcg==") == NULL);
    CHECK(hdr_api_key(NULL, "Bearer    ") == NULL);
    CHECK(hdr_api_key(NULL, "Bearer") == NULL);
    CHECK(hdr_api_key("", NULL) == NULL);
    CHECK(strcmp(hdr_bearer("Bearer  t"), " t") == 0 && hdr_bearer("Token t") == NULL);
    /* HTTP Basic (A1111's --api-auth): the password, or the user name with an empty password */
    char b[64];
    CHECK(strcmp(hdr_basic_key("Basic dXNlcjpzay1rZXk=", b, sizeof b), "sk-key") == 0);  /* user:sk-key */
    CHECK(strcmp(hdr_basic_key("basic   c2sta2V5Og== ", b, sizeof b), "sk-key") == 0); /* sk-key: */
    CHECK(hdr_basic_key("Basic dXNlcg==", b, sizeof b) == NULL);                           /* user (no colon) */
    CHECK(hdr_basic_key("Basic Og==", b, sizeof b) == NULL);                               /* ":" */
    CHECK(hdr_basic_key("Basic !!!!", b, sizeof b) == NULL && hdr_basic_key("Bearer x", b, sizeof b) == NULL);
    CHECK(hdr_basic_key("Basic dXNlcjpzay1rZXk=", b, 8) == NULL); /* does not fit */
    CHECK(hdr_basic_key("Basic AHg6eQ==", b, sizeof b) == NULL);  /* a NUL inside */
    CHECK(hdr_basic_key(NULL, b, sizeof b) == NULL && hdr_basic_key("Basic ", b, sizeof b) == NULL);
    /* Content-Type */
    CHECK(hdr_is_json("application/json") && hdr_is_json("Application/JSON; charset=utf-8"));
    CHECK(hdr_is_json("application/json ;charset=utf-8"));
    CHECK(!hdr_is_json("application/jsonp") && !hdr_is_json("text/plain") && !hdr_is_json(NULL));
    CHECK(!hdr_is_json("application/jso") && !hdr_is_json(""));
    /* x-timeout-seconds */
    long v = 0;
    CHECK(hdr_timeout_seconds("30", &v) == 0 && v == 30);
    CHECK(hdr_timeout_seconds("99999999999999999999999", &v) == 0 && v == LONG_MAX);
    static const char *const bad[] = {"", "0", "-5", "+5", " 5", "5s", "1.5", "0x10", "５"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(hdr_timeout_seconds(bad[i], &v) == -1);
    CHECK(hdr_timeout_seconds(NULL, &v) == -1);
    /* Idempotency-Key: 1..max-1 bytes */
    char long_key[300];
    memset(long_key, 'a', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    CHECK(hdr_idempotency_key_ok("abc", 256) && !hdr_idempotency_key_ok("", 256));
    CHECK(!hdr_idempotency_key_ok(long_key, 256) && !hdr_idempotency_key_ok(NULL, 256));
    long_key[255] = 0;
    CHECK(hdr_idempotency_key_ok(long_key, 256));
    /* Host: only what belongs in a host[:port] is echoed */
    CHECK(hdr_host_ok("localhost:8080") && hdr_host_ok("[::1]:80") && hdr_host_ok("api.example.com"));
    CHECK(!hdr_host_ok("evil.com/x?") && !hdr_host_ok("a b") && !hdr_host_ok("") && !hdr_host_ok(NULL));
    CHECK(!hdr_host_ok("h\r\nX-Injected: 1"));
    long_key[255] = 'a';
    long_key[256] = 0;
    CHECK(!hdr_host_ok(long_key));
}

/* The one table of each enumeration: every name parses back to its value, the API's parser
 * accepts exactly those names, and the message lists them in order. */
void test_params_tables_are_the_one_source(void) {
    for (int i = 0; i < SIZE_COUNT; i++) CHECK_EQ_INT(api_size_parse(API_SIZE_NAMES[i]), i);
    for (int i = 0; i < QUALITY_COUNT; i++) CHECK_EQ_INT(api_quality_parse(API_QUALITY_NAMES[i]), i);
    for (int i = 0; i < MODERATION_COUNT; i++)
        CHECK_EQ_INT(api_moderation_parse(API_MODERATION_NAMES[i]), i);
    for (int i = 0; i < BACKGROUND_COUNT; i++)
        CHECK_EQ_INT(api_background_parse(API_BACKGROUND_NAMES[i]), i);
    for (int i = 0; i < FORMAT_COUNT; i++) CHECK_EQ_INT(api_format_parse(API_FORMAT_NAMES[i]), i);
    CHECK_EQ_INT(api_size_parse("512x512"), -1);
    CHECK_EQ_INT(api_format_parse("PNG"), -1);
    char list[64];
    CHECK(strcmp(api_names_list(API_QUALITY_NAMES, 1, QUALITY_COUNT, list, sizeof list),
                 "low, medium or high") == 0);
    CHECK(strcmp(api_names_list(API_MODERATION_NAMES, 0, MODERATION_COUNT, list, sizeof list),
                 "auto or low") == 0);
    CHECK(strcmp(api_names_list(API_SIZE_NAMES, 0, SIZE_COUNT, list, 12), "auto, 1024x") == 0);
    for (int i = 0; i < SIZE_COUNT; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"prompt\":\"p\",\"size\":\"%s\"}", API_SIZE_NAMES[i]);
        api_request_t r;
        api_error_t e;
        CHECK_EQ_INT(parse(ROUTE_KIND_OPENAI, body, &r, &e), 0);
        CHECK_EQ_INT(r.size, i);
        api_request_free(&r);
    }
}

/* A seed route's JSON edit (SPEC §11): images decoded from base64 or data: URLs, size auto,
 * the edit's fields accepted only with an image, remote URLs refused. */
void test_request_json_edit(void) {
    api_request_t r;
    api_error_t e;
    /* "hello" = aGVsbG8= */
    CHECK_EQ_INT(parse(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"image\":\"aGVsbG8=\",\"strength\":0.5}", &r, &e), 0);
    CHECK_EQ_INT(r.nimages, 1);
    CHECK(r.image_len[0] == 5 && memcmp(r.image[0], "hello", 5) == 0);
    CHECK_EQ_INT(r.size, SIZE_AUTO);
    CHECK(r.has_strength && r.strength == 0.5);
    api_request_free(&r);
    CHECK_EQ_INT(parse(ROUTE_KIND_SEED,
                       "{\"prompt\":\"p\",\"images\":[\"data:image/png;base64,aGVsbG8=\",\"aGk=\"],"
                       "\"mask\":\"aGk=\",\"size\":\"1024x1024\"}",
                       &r, &e),
                 0);
    CHECK(r.nimages == 2 && r.image_len[1] == 2 && r.mask_len == 2 && r.size == SIZE_1024x1024);
    api_request_free(&r);
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"image\":\"https://example.com/a.png\"}", "image");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"image\":\"@@@@\"}", "image");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"image\":\"data:image/png,abc\"}", "image");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"strength\":0.5}", "strength");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"mask\":\"aGk=\"}", "image");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"images\":[]}", "images");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"images\":[1]}", "images");
    expect_400(ROUTE_KIND_SEED, "{\"prompt\":\"p\",\"image\":\"aGk=\",\"images\":[\"aGk=\"]}", "images");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"p\",\"image\":\"aGk=\"}", "image");
    /* variations: no prompt, strength 0.6 */
    CHECK_EQ_INT(parse(ROUTE_KIND_VARIATION, "{\"n\":2}", &r, &e), 0);
    CHECK(r.prompt && r.prompt[0] == 0 && r.has_strength && r.strength == 0.6 && r.n == 2);
    api_request_free(&r);
    expect_400(ROUTE_KIND_VARIATION, "{\"prompt\":\"p\"}", "prompt");
}

/* Adapters: the "loras" field and the prompt's <lora:NAME[:SCALE]> tags (taken out of it). */
static void expect_loras(const char *body, const char *prompt, const char *names, const float *scales) {
    api_request_t r;
    api_error_t e;
    int rc = parse(ROUTE_KIND_OPENAI, body, &r, &e);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", body, e.message);
        return;
    }
    CHECK(strcmp(r.prompt, prompt) == 0);
    char got[256] = "";
    for (int i = 0; i < r.nloras; i++) {
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", r.loras[i].name);
        CHECK(r.loras[i].scale == scales[i]);
    }
    if (strcmp(got, names)) fprintf(stderr, "  %s: loras %s, expected %s (prompt '%s')\n", body, got, names, r.prompt);
    CHECK(strcmp(got, names) == 0);
    api_request_free(&r);
}

void test_request_loras(void) {
    static const float S1[] = {0.5f}, S2[] = {1.0f, -1.0f}, S3[] = {0.25f, 1.0f, 0.7f};
    expect_loras("{\"prompt\":\"a cat <lora:style:0.5> in a hat\"}", "a cat in a hat", "style", S1);
    expect_loras("{\"prompt\":\"<lora:a> <LyCo:b(v2):-1>rest\"}", "rest", "a,b(v2)", S2);
    expect_loras("{\"prompt\":\"x <lora:My Style_v1.5:0.25>\",\"loras\":[{\"name\":\"a\"},{\"name\":\"b\",\"scale\":0.7}]}",
                 "x", "a,b,My Style_v1.5", (const float[]){1.0f, 0.7f, 0.25f});
    expect_loras("{\"prompt\":\"a <b> c\"}", "a <b> c", "", S3);
    expect_loras("{\"prompt\":\"x,<lora:a:0.5>,y\"}", "x,,y", "a", S1);
    /* refused: bad names, scales, tags; too many; a prompt of tags only */
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora:a:b>\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora:a:1:2>\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora::1>\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora:../etc/passwd>\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora:a:9>\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x <lora:a\"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\" <lora:a> \"}", "prompt");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":[1]}", "loras");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":[{\"name\":\"a\",\"scale\":\"1\"}]}", "loras");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":[{\"scale\":1}]}", "loras");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":[{\"name\":\".hidden\"}]}", "loras");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":[{\"name\":\"a/b\"}]}", "loras");
    expect_400(ROUTE_KIND_OPENAI, "{\"prompt\":\"x\",\"loras\":{\"name\":\"a\"}}", "loras");
    expect_400(ROUTE_KIND_OPENAI,
               "{\"prompt\":\"<lora:a><lora:b><lora:c><lora:d><lora:e> x\",\"loras\":[{\"name\":\"f\"},{\"name\":\"g\"},"
               "{\"name\":\"h\"},{\"name\":\"i\"}]}",
               "prompt");
}
