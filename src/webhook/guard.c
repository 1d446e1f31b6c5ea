/* guard.c - webhook target validation. */
#include "webhook/guard.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int v4_private(uint32_t a) { /* a in host order */
    static const struct {
        uint32_t net, mask;
    } R[] = {
        {0x00000000, 0xff000000}, /* 0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 */
        {0x64400000, 0xffc00000}, /* 100.64/10 carrier-grade NAT */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local (cloud metadata) */
        {0xac100000, 0xfff00000}, /* 172.16/12 */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 protocol assignments */
        {0xc0000200, 0xffffff00}, /* 192.0.2/24 documentation */
        {0xc0586300, 0xffffff00}, /* 192.88.99/24 6to4 relay anycast */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100/24 documentation */
        {0xcb007100, 0xffffff00}, /* 203.0.113/24 documentation */
        {0xe0000000, 0xf0000000}, /* 224/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240/4 reserved and broadcast */
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
        if ((a & R[i].mask) == R[i].net) return 1;
    return 0;
}

static uint32_t v4_at(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* 1 when the first bits of b equal those of prefix. */
static int in_prefix(const uint8_t *b, const uint8_t *prefix, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(b, prefix, (size_t)whole)) return 0;
    if (!rest) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (b[whole] & mask) == (prefix[whole] & mask);
}

/* IPv6: every range that is not a public unicast address, and every way an IPv4 address can be
 * carried inside one (the embedded address is classified as IPv4). */
static int v6_private(const uint8_t *b) {
    static const struct {
        uint8_t p[16];
        int bits;
        int v4_at;  /* byte offset of an embedded IPv4 address to classify instead, or -1 */
        int v4_xor; /* the embedded address is stored inverted (Teredo's client) */
    } R[] = {
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 12, 0}, /* ::ffff:0:0/96 IPv4-mapped */
        {{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, 96, 12, 0}, /* ::ffff:0:0:0/96 translated */
        {{0x00, 0x64, 0xff, 0x9b}, 96, 12, 0},                   /* 64:ff9b::/96 NAT64 */
        {{0x20, 0x02}, 16, 2, 0},                                /* 2002::/16 6to4 */
        {{0x20, 0x01, 0x00, 0x00}, 32, 12, 1},                   /* 2001::/32 Teredo (client) */
        {{0}, 8, -1, 0}, /* ::/8: unspecified, loopback, IPv4-compatible, reserved */
        {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, -1, 0}, /* 64:ff9b:1::/48 local NAT64 */
        {{0x01, 0x00}, 64, -1, 0},                         /* 100::/64 discard */
        {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, -1, 0}, /* 2001:2::/48 benchmarking */
        {{0x20, 0x01, 0x00, 0x10}, 28, -1, 0},             /* 2001:10::/28 ORCHID */
        {{0x20, 0x01, 0x0d, 0xb8}, 32, -1, 0},             /* 2001:db8::/32 documentation */
        {{0x3f, 0xff}, 20, -1, 0},                         /* 3fff::/20 documentation */
        {{0x5f, 0x00}, 8, -1, 0},                          /* 5f00::/8 segment routing */
        {{0xfc}, 7, -1, 0},                                /* fc00::/7 unique local */
        {{0xfe, 0x80}, 10, -1, 0},                         /* fe80::/10 link-local */
        {{0xfe, 0xc0}, 10, -1, 0},                         /* fec0::/10 site-local */
        {{0xff}, 8, -1, 0},                                /* ff00::/8 multicast */
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        if (!in_prefix(b, R[i].p, R[i].bits)) continue;
        if (R[i].v4_at < 0) return 1;
        uint32_t v4 = v4_at(b + R[i].v4_at);
        if (R[i].v4_xor) /* Teredo: the server (bytes 4-7) and the client (inverted) */
            return v4_private(~v4) || v4_private(v4_at(b + 4));
        return v4_private(v4);
    }
    /* only 2000::/3 is allocated global unicast; anything else is not a web server */
    return (b[0] & 0xe0) != 0x20;
}

int guard_addr_is_private(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6) return 1; /* anything else is not a web server */
    return v6_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
}

int guard_check_url(const char *url, int allow_private, char *err, size_t errlen) {
    if (!url || !*url || strlen(url) > WEBHOOK_URL_MAX) {
        snprintf(err, errlen, "webhook_url must be an http or https URL of at most %d characters",
                 WEBHOOK_URL_MAX);
        return -1;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "webhook_url is not a valid absolute URL");
    } else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
        snprintf(err, errlen, "webhook_url must use http or https");
    } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(err, errlen, "webhook_url must not contain credentials");
    } else if (allow_private) {
        rc = 0;
    } else {
        /* the sender checks the address it connects to as well (DNS may change meanwhile) */
        char h[256];
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
            snprintf(h, sizeof h, "%.*s", (int)(hl - 2), host + 1);
        } else {
            snprintf(h, sizeof h, "%s", host);
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(h, NULL, &hints, &res) != 0 || !res) {
            snprintf(err, errlen, "webhook_url's host does not resolve");
        } else {
            rc = 0;
            for (struct addrinfo *a = res; a; a = a->ai_next)
                if (guard_addr_is_private(a->ai_addr)) rc = -1;
            if (rc)
                snprintf(err, errlen,
                         "webhook_url must not point to a loopback, private or reserved address");
            freeaddrinfo(res);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}
