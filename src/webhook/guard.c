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
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xe0000000, 0xf0000000}, /* 224/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240/4 reserved and broadcast */
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
        if ((a & R[i].mask) == R[i].net) return 1;
    return 0;
}

int guard_addr_is_private(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6) return 1; /* anything else is not a web server */
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero[16];
    if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) return 1; /* :: and ::1 */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(b, mapped, 12))
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                          b[15]);
    if ((b[0] & 0xfe) == 0xfc) return 1;                 /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 1; /* fe80::/10 link-local */
    if (b[0] == 0xff) return 1;                          /* multicast */
    return 0;
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
