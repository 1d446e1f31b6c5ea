/* test_webhook.c - the SSRF guard's address classes and URL checks, and the signature format. */
#include "common/crypto.h"
#include "tests/unit/harness.h"
#include "webhook/guard.h"
#include "webhook/sender.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static int v4(const char *s) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    CHECK(inet_pton(AF_INET, s, &a.sin_addr) == 1);
    return guard_addr_is_private((const struct sockaddr *)&a);
}

static int v6(const char *s) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    CHECK(inet_pton(AF_INET6, s, &a.sin6_addr) == 1);
    return guard_addr_is_private((const struct sockaddr *)&a);
}

void test_webhook_guard(void) {
    const char *priv4[] = {"127.0.0.1",   "10.0.0.1",        "172.16.5.4", "172.31.255.255",
                           "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                           "224.0.0.1",   "255.255.255.255", "198.18.0.1"};
    for (size_t i = 0; i < sizeof priv4 / sizeof priv4[0]; i++)
        CHECK(v4(priv4[i]) == 1);
    const char *pub4[] = {"8.8.8.8",     "172.32.0.1", "172.15.255.255",
                          "100.128.0.1", "1.1.1.1",    "192.169.0.1"};
    for (size_t i = 0; i < sizeof pub4 / sizeof pub4[0]; i++)
        CHECK(v4(pub4[i]) == 0);
    CHECK(v6("::1") == 1 && v6("::") == 1 && v6("fe80::1") == 1 && v6("fd00::1") == 1 &&
          v6("ff02::1") == 1);
    CHECK(v6("::ffff:127.0.0.1") == 1 && v6("::ffff:8.8.8.8") == 0 &&
          v6("2001:4860:4860::8888") == 0);
    /* every way IPv4 rides in IPv6, with a private and a public address each */
    const char *priv6[] = {"::127.0.0.1",      "::8.8.8.8", /* IPv4-compatible: deprecated */
                           "::ffff:0:127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1",
                           "64:ff9b:1::808:808", "2002:7f00:1::", "2002:c0a8:101::1",
                           "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:80ff:fffe", /* 127.0.0.1 */
                           "2001:0:7f00:1::808:808", /* Teredo server 127.0.0.1 */
                           "fec0::1", "fe80::1", "febf::1", "fc00::1", "2001:db8::1",
                           "2001:2::1", "2001:10::1", "100::1", "3fff::1", "5f00::1", "4000::1",
                           "::ffff:192.0.2.1", "::ffff:203.0.113.9"};
    for (size_t i = 0; i < sizeof priv6 / sizeof priv6[0]; i++) {
        if (v6(priv6[i]) != 1) fprintf(stderr, "  not refused: %s\n", priv6[i]);
        CHECK(v6(priv6[i]) == 1);
    }
    const char *pub6[] = {"::ffff:1.1.1.1", "64:ff9b::808:808", "2002:808:808::1",
                          "2001:0:4136:e378:8000:63bf:f7f7:f7f7", /* Teredo client 8.8.8.8 */
                          "2a00:1450:4001::1", "2606:4700::1111"};
    for (size_t i = 0; i < sizeof pub6 / sizeof pub6[0]; i++) {
        if (v6(pub6[i]) != 0) fprintf(stderr, "  refused: %s\n", pub6[i]);
        CHECK(v6(pub6[i]) == 0);
    }
    CHECK(v4("192.0.2.1") == 1 && v4("198.51.100.1") == 1 && v4("203.0.113.1") == 1 &&
          v4("192.88.99.1") == 1);
    char err[160];
    CHECK(guard_check_url("http://127.0.0.1:8080/x", 0, err, sizeof err) == -1 &&
          strstr(err, "loopback"));
    CHECK(guard_check_url("http://127.0.0.1:8080/x", 1, err, sizeof err) == 0);
    CHECK(guard_check_url("http://[::1]/", 0, err, sizeof err) == -1);
    CHECK(guard_check_url("https://10.0.0.7/", 0, err, sizeof err) == -1);
    CHECK(guard_check_url("gopher://example.com/", 1, err, sizeof err) == -1 &&
          strstr(err, "http"));
    CHECK(guard_check_url("http://a:b@example.com/", 1, err, sizeof err) == -1 &&
          strstr(err, "credentials"));
    CHECK(guard_check_url("", 1, err, sizeof err) == -1);
    CHECK(guard_check_url("/relative", 1, err, sizeof err) == -1);
    char sig[72];
    sender_sign("whsec_k", "{}", 2, sig);
    uint8_t mac[32];
    char hex[65];
    crypto_hmac_sha256("whsec_k", 7, "{}", 2, mac);
    crypto_hex(mac, 32, hex);
    CHECK(strncmp(sig, "sha256=", 7) == 0 && strcmp(sig + 7, hex) == 0);
}
