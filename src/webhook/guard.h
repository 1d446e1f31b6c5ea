/* guard.h - which webhook targets the server may call (SSRF guard): http(s) URLs whose host
 * resolves only to public addresses, unless the operator allows private ones. */
#ifndef IMGAPI_WEBHOOK_GUARD_H
#define IMGAPI_WEBHOOK_GUARD_H
#include <stddef.h>
#include <sys/socket.h>

#define WEBHOOK_URL_MAX 511

/* 1 when the address is loopback, private, link-local, carrier-grade NAT, multicast, reserved
 * or unspecified (IPv4, IPv6, and IPv4-mapped IPv6). */
int guard_addr_is_private(const struct sockaddr *sa);
/* Checks a webhook URL: scheme http or https, a host, no user:password, at most WEBHOOK_URL_MAX
 * bytes, and (unless allow_private) every address the host resolves to is public. Returns 0, or
 * -1 with a reason for the client in err. Resolves names: call it off the hot path. */
int guard_check_url(const char *url, int allow_private, char *err, size_t errlen);

#endif
