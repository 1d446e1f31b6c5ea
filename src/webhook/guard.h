/* guard.h - which webhook targets the server may call (SSRF guard): http(s) URLs whose host
 * resolves only to public addresses, unless the operator allows private ones. */
#ifndef IMGAPI_WEBHOOK_GUARD_H
#define IMGAPI_WEBHOOK_GUARD_H
#include <stddef.h>
#include <sys/socket.h>

#define WEBHOOK_URL_MAX 511

/* 1 when the address is not public unicast: loopback, private, link-local, site-local, unique
 * local, carrier-grade NAT, multicast, documentation, benchmarking, reserved or unspecified. An
 * IPv4 address carried in IPv6 (IPv4-compatible, -mapped, -translated, NAT64, 6to4, Teredo) is
 * classified as that IPv4 address; IPv6 outside 2000::/3 is never public. Both the URL check and
 * the sender's connect call it, so DNS that changes in between changes nothing. */
int guard_addr_is_private(const struct sockaddr *sa);
/* Checks a webhook URL: scheme http or https, a host, no user:password, at most WEBHOOK_URL_MAX
 * bytes, and (unless allow_private) every address the host resolves to is public. Returns 0, or
 * -1 with a reason for the client in err. Resolves names: call it off the hot path. */
int guard_check_url(const char *url, int allow_private, char *err, size_t errlen);

#endif
