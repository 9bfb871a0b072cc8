/*
 * Network values of the config: listen addresses, CIDR ranges (and the trusted-proxy test the
 * gateway runs per request), Redis URLs. Parsing runs at config load (main thread);
 * sluice_cidr_contains is called from any event-loop thread and touches only its arguments.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

static int is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Splits "host:port" / "[v6]:port" into host and port text. Returns 0 or -1 with err. */
static int split_host_port(const char *s, char *host, size_t host_len, const char **port, int *bracketed, char *err,
                           size_t err_len)
{
    const char *h = s, *h_end;
    *bracketed = 0;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            snprintf(err, err_len, "unclosed '[' in the address");
            return -1;
        }
        h = s + 1;
        h_end = close;
        if (close[1] != ':') {
            snprintf(err, err_len, "expected ':port' after ']'");
            return -1;
        }
        *port = close + 2;
        *bracketed = 1;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL) {
            snprintf(err, err_len, "expected host:port, e.g. 127.0.0.1:8443");
            return -1;
        }
        if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            snprintf(err, err_len, "an IPv6 address needs brackets, e.g. [::1]:8443");
            return -1;
        }
        h_end = colon;
        *port = colon + 1;
    }
    size_t n = (size_t)(h_end - h);
    if (n == 0) {
        snprintf(err, err_len, "missing host (use 0.0.0.0 or [::] for every interface)");
        return -1;
    }
    if (n >= host_len) {
        snprintf(err, err_len, "host longer than %zu characters", host_len - 1);
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

/* Decimal port text into *out (allow_zero for listeners, where 0 asks for any free port). */
static int parse_port(const char *p, int allow_zero, uint16_t *out, char *err, size_t err_len)
{
    unsigned long v = 0;
    size_t n = strlen(p);
    if (n == 0 || n > 5) {
        snprintf(err, err_len, "missing or bad port");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            snprintf(err, err_len, "port is not a number");
            return -1;
        }
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > 65535 || (v == 0 && !allow_zero)) {
        snprintf(err, err_len, "port out of range (%d..65535)", allow_zero ? 0 : 1);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

static int check_host(const char *host, int bracketed, char *err, size_t err_len)
{
    unsigned char buf[16];
    if (bracketed) {
        if (inet_pton(AF_INET6, host, buf) != 1) {
            snprintf(err, err_len, "'%s' is not an IPv6 address", host);
            return -1;
        }
        return 0;
    }
    for (const char *p = host; *p; p++) {
        if (!is_host_char(*p)) {
            snprintf(err, err_len, "'%s' is not an IP address or host name", host);
            return -1;
        }
    }
    return 0;
}

int sluice_listen_parse(const char *s, sluice_listen_t *out, char *err, size_t err_len)
{
    sluice_listen_t l;
    memset(&l, 0, sizeof(l));
    if (s[0] == '\0') {
        *out = l;
        return 0;
    }
    const char *port;
    int bracketed;
    if (split_host_port(s, l.host, sizeof(l.host), &port, &bracketed, err, err_len) < 0 ||
        check_host(l.host, bracketed, err, err_len) < 0 || parse_port(port, 1, &l.port, err, err_len) < 0)
        return -1;
    l.enabled = 1;
    *out = l;
    return 0;
}

int sluice_cidr_parse(const char *s, sluice_cidr_t *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(addr))
        return -1;
    memcpy(addr, s, n);
    addr[n] = '\0';
    sluice_cidr_t c;
    memset(&c, 0, sizeof(c));
    unsigned max;
    if (inet_pton(AF_INET, addr, c.addr) == 1) {
        c.family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
        c.family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    unsigned prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t len = strlen(p);
        if (len == 0 || len > 3)
            return -1;
        prefix = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -1;
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (prefix > max)
            return -1;
    }
    c.prefix_len = (uint8_t)prefix;
    /* Clear host bits so contains() compares whole bytes and 10.1.2.3/8 means 10.0.0.0/8. */
    for (unsigned bit = prefix; bit < max; bit++) {
        uint8_t m = (uint8_t)(0x80u >> (bit % 8));
        if (c.addr[bit / 8] & m)
            c.host_bits = 1;
        c.addr[bit / 8] &= (uint8_t)~m;
    }
    *out = c;
    return 0;
}

const char *sluice_cidr_format(const sluice_cidr_t *c, char *buf, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    if (inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
        addr[0] = '\0';
    snprintf(buf, cap, "%s/%u", addr, (unsigned)c->prefix_len);
    return buf;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int sluice_cidr_contains(const sluice_cidr_t *cidr, const struct sockaddr *sa)
{
    if (cidr == NULL || sa == NULL)
        return 0;
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof(sin));
        if (cidr->family != AF_INET)
            return 0;
        return prefix_match((const uint8_t *)&sin.sin_addr, cidr->addr, cidr->prefix_len);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof(sin6));
        const uint8_t *a = (const uint8_t *)&sin6.sin6_addr;
        if (cidr->family == AF_INET6)
            return prefix_match(a, cidr->addr, cidr->prefix_len);
        if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0)
            return prefix_match(a + 12, cidr->addr, cidr->prefix_len);
    }
    return 0;
}

int sluice_redis_url_parse(const char *url, char *host, size_t host_len, uint16_t *port, unsigned *db, char *err,
                           size_t err_len)
{
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, err_len,
                 "TLS to Redis (rediss://) is not built in; reach a TLS Redis through a local stunnel "
                 "(docs/identity.md) and use redis://127.0.0.1:<its port>");
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, err_len, "expected redis://host:port[/db]");
        return -1;
    }
    const char *rest = url + 8;
    size_t auth_len = strcspn(rest, "/");
    /* user[:password]@ is taken apart by sluice_redis_url_userinfo; the host follows the last '@'.
     * Only host:port counts against the buffer: a 64-hex-digit ACL password (ACL GENPASS) with a
     * user and a managed Redis's long host name was refused as "host part too long". */
    const char *host_start = rest;
    for (size_t i = 0; i < auth_len; i++)
        if (rest[i] == '@')
            host_start = rest + i + 1;
    size_t host_part_len = auth_len - (size_t)(host_start - rest);
    char authority[128];
    if (host_part_len >= sizeof(authority)) {
        snprintf(err, err_len, "host part too long");
        return -1;
    }
    memcpy(authority, host_start, host_part_len);
    authority[host_part_len] = '\0';
    if (strpbrk(rest, "?#") != NULL) {
        snprintf(err, err_len, "query options are not supported; expected redis://host:port[/db]");
        return -1;
    }
    /* Port is optional: append the default so one splitter handles both forms. */
    int has_port = authority[0] == '[' ? strstr(authority, "]:") != NULL : strchr(authority, ':') != NULL;
    char hp[140];
    snprintf(hp, sizeof(hp), "%s%s", authority, has_port ? "" : ":6379");
    const char *port_text;
    int bracketed;
    if (split_host_port(hp, host, host_len, &port_text, &bracketed, err, err_len) < 0 ||
        check_host(host, bracketed, err, err_len) < 0 || parse_port(port_text, 0, port, err, err_len) < 0)
        return -1;
    *db = 0;
    const char *d = rest + auth_len;
    if (*d == '/' && d[1] != '\0') {
        unsigned long v = 0;
        for (const char *p = d + 1; *p; p++) {
            if (*p < '0' || *p > '9' || v > 100000) {
                snprintf(err, err_len, "database after '/' must be a number");
                return -1;
            }
            v = v * 10 + (unsigned long)(*p - '0');
        }
        *db = (unsigned)v;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX only ('+' stays '+': this is a URL's userinfo, not a form), into a new string. */
static char *userinfo_decode(const char *s, size_t n, char *err, size_t err_len)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            OPENSSL_cleanse(out, n + 1);
            free(out);
            snprintf(err, err_len, "bad %%-escape in the user or password part");
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

int sluice_redis_url_userinfo(const char *url, char **user, char **password, char *err, size_t err_len)
{
    *user = *password = NULL;
    if (strncmp(url, "redis://", 8) != 0)
        return 0;
    const char *rest = url + 8;
    size_t auth_len = strcspn(rest, "/");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (rest[i] == '@')
            at = rest + i;
    if (at == NULL)
        return 0;
    size_t info_len = (size_t)(at - rest);
    const char *colon = memchr(rest, ':', info_len);
    size_t user_len = colon != NULL ? (size_t)(colon - rest) : info_len;
    if (user_len > 0 && (*user = userinfo_decode(rest, user_len, err, err_len)) == NULL)
        return -1;
    if (colon != NULL && (size_t)(at - colon - 1) > 0 &&
        (*password = userinfo_decode(colon + 1, (size_t)(at - colon - 1), err, err_len)) == NULL) {
        free(*user);
        *user = NULL;
        return -1;
    }
    return 0;
}
