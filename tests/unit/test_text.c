/* test_text.c - UTF-8 repair and cuts, log escaping, secret redaction, and the error bodies and
 * request parser that rely on them (echoed values cut inside a character, NUL in any field). */
#include "api/error.h"
#include "api/json_body.h"
#include "api/pricing.h"
#include "api/request.h"
#include "common/text.h"
#include "tests/unit/harness.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int valid_utf8(const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = text_utf8_seq((const unsigned char *)s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

void test_text_utf8(void) {
    CHECK(text_utf8_seq((const unsigned char *)"\xC3\xA9", 2) == 2);
    CHECK(text_utf8_seq((const unsigned char *)"\xC3", 1) == 0);             /* cut */
    CHECK(text_utf8_seq((const unsigned char *)"\xC0\x80", 2) == 0);         /* overlong NUL */
    CHECK(text_utf8_seq((const unsigned char *)"\xED\xA0\x80", 3) == 0);     /* surrogate */
    CHECK(text_utf8_seq((const unsigned char *)"\xF4\x90\x80\x80", 4) == 0); /* > U+10FFFF */
    CHECK(text_utf8_seq((const unsigned char *)"\xF0\x9F\x98\x80", 4) == 4);
    /* every cut of a string of 1-4 byte characters lands on a boundary and stays valid */
    const char *mixed = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
    for (size_t cap = 1; cap <= strlen(mixed) + 1; cap++) {
        char out[32];
        size_t n = text_utf8_copy(out, cap, mixed, strlen(mixed));
        CHECK(n < cap && strlen(out) == n && valid_utf8(out));
        CHECK(strncmp(out, mixed, n) == 0); /* a prefix: nothing invented */
    }
    char out[16];
    text_utf8_copy(out, sizeof out,
                   "a\xFF"
                   "b",
                   3);
    CHECK(strcmp(out, "a\xEF\xBF\xBD"
                      "b") == 0);
    char fix[8] = "abcd\xE2\x82";
    text_utf8_fix(fix, sizeof fix);
    CHECK(valid_utf8(fix) && strncmp(fix, "abcd", 4) == 0);
    CHECK(text_utf8_chars("\xC3\xA9\xC3\xA9", 4) == 2);
}

void test_text_log_escape(void) {
    char out[128];
    const char *in = "GET /x\nFORGED\r\x1b[31m\\\x7f\xC2\x85\xFF ok \xC3\xA9";
    text_log_escape(out, sizeof out, in, strlen(in));
    CHECK(strcmp(out, "GET /x\\nFORGED\\r\\x1B[31m\\\\\\x7F\\u0085\\xFF ok \xC3\xA9") == 0);
    for (size_t i = 0; out[i]; i++)
        CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    /* cut on a boundary of the escaped form */
    char small[6];
    text_log_escape(small, sizeof small, "ab\ncd", 5);
    CHECK(strcmp(small, "ab\\nc") == 0);
    text_log_escape(small, 5, "ab\ncd", 5);
    CHECK(strcmp(small, "ab\\n") == 0);
    text_log_escape(small, 4, "ab\ncd", 5);
    CHECK(strcmp(small, "ab") == 0);
}

void test_text_redact_secrets(void) {
    char s[200] =
        "POST /admin/keys/sk-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/"
        "revoke sk-short disk-0123456789abcdef0 sk-0123456789ABCDEF";
    CHECK(text_redact_secrets(s) == 3);
    CHECK(
        strcmp(s, "POST /admin/keys/sk-[redacted]/revoke sk-short disk-[redacted] sk-[redacted]") ==
        0);
}

void test_error_messages_always_render(void) {
    /* an echoed name cut inside a character at every offset: the body is always valid JSON */
    for (int n = 40; n < 80; n++) {
        for (int w = 2; w <= 4; w++) {
            char name[256];
            memset(name, 'a', (size_t)n);
            const char *ch = w == 2 ? "\xC3\xA9" : w == 3 ? "\xE2\x82\xAC" : "\xF0\x9F\x98\x80";
            for (int k = 0; k < 3; k++)
                memcpy(name + n + k * w, ch, (size_t)w);
            name[n + 3 * w] = 0;
            api_error_t e;
            api_error_set(&e, 400, "unknown_parameter", name, "Unknown parameter: '%.50s'.", name);
            for (int style = 0; style < 2; style++) {
                char *j = api_error_json(&e, (api_style_t)style);
                CHECK(j != NULL);
                json_t *v = j ? json_loads(j, 0, NULL) : NULL;
                CHECK(v != NULL);
                json_decref(v);
                free(j);
            }
        }
    }
}

static int parse_rc(const char *body, size_t len) {
    api_request_t r;
    api_error_t e;
    int rc = api_request_parse(ROUTE_KIND_OPENAI, body, len, &r, &e);
    if (rc == 0)
        api_request_free(&r);
    else
        CHECK_EQ_INT(e.status, 400);
    return rc;
}

void test_request_nul_and_duplicates(void) {
    static const char *const bad[] = {
        "{\"prompt\":\"a\",\"size\":\"1024x1024\\u0000junk\"}",
        "{\"prompt\":\"a\",\"output_format\":\"png\\u0000x\"}",
        "{\"prompt\":\"a\",\"model\":\"gpt-image-1-mini\\u0000x\"}",
        "{\"prompt\":\"a\\u0000\"}",
        "{\"prompt\\u0000x\":\"a\"}",
        "{\"prompt\":\"a\",\"user\":\"\\u0000\"}",
        "{\"prompt\":\"a\",\"prompt\":\"b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse_rc(bad[i], strlen(bad[i])) != -1) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(parse_rc(bad[i], strlen(bad[i])) == -1);
    }
    const char *ok = "{\"prompt\":\"a\",\"size\":\"1024x1024\"}";
    CHECK(parse_rc(ok, strlen(ok)) == 0);
    json_t *o;
    api_error_t e;
    CHECK(api_json_body("", 0, 1, &o, &e) == 0 && json_object_size(o) == 0);
    json_decref(o);
    CHECK(api_json_body("", 0, 0, &o, &e) == -1 && o == NULL);
    CHECK(api_json_body("[1]", 3, 0, &o, &e) == -1 && e.status == 400);
    const char *nested = "{\"a\":[{\"b\":\"x\\u0000\"}]}";
    CHECK(api_json_body(nested, strlen(nested), 0, &o, &e) == -1 && strcmp(e.param, "a") == 0);
    json_t *s = json_stringn("png\0x", 5), *plain = json_string("png");
    CHECK(!api_json_str_eq(s, "png") && api_json_str_eq(plain, "png") == 1);
    json_decref(s);
    json_decref(plain);
}

void test_pricing_checked(void) {
    price_table_t t;
    price_table_default(&t);
    t.micro[QUALITY_HIGH][SIZE_1024x1024] = INT64_MAX / 3;
    CHECK(price_cost(&t, QUALITY_HIGH, SIZE_1024x1024, 3) == INT64_MAX / 3 * 3);
    CHECK(price_cost(&t, QUALITY_HIGH, SIZE_1024x1024, 4) == INT64_MAX);
    CHECK(price_cost(&t, QUALITY_HIGH, SIZE_1024x1024, -1) == INT64_MAX);
    CHECK(PRICE_MAX_MICRO * 10 < INT64_MAX / 1000);
}
