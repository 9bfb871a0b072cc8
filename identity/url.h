/*
 * The small pieces of URL handling identity needs, on untrusted input: the host of an Origin
 * header or of a link target, one query parameter of a page URL (percent-decoded), and the
 * removal of a parameter (the `_dft` token) and of user information (a password) from URLs before
 * an event goes to Kafka.
 *
 * Pure functions over caller buffers; any thread.
 */
#ifndef SLUICE_IDENTITY_URL_H
#define SLUICE_IDENTITY_URL_H

#include <stddef.h>
#include <sys/uio.h>

/* Longest host name accepted (RFC 1035: 253 characters). */
#define SLUICE_URL_HOST_MAX 253

/* The host of s[0..len): an absolute http(s) URL ("https://Shop.Acme.test:8443/a?b"), an origin
 * ("https://shop.acme.test"), or a bare host name ("shop.acme.test"). Writes it lowercased,
 * without port and without a trailing dot, plus a NUL, into out (cap >= SLUICE_URL_HOST_MAX + 1
 * always suffices). Returns 0, or -1 when s is not one of those forms: another scheme, user
 * information ("a@b"), an empty host, a character outside letters, digits, '-' and '.', a bad
 * port, or a host longer than SLUICE_URL_HOST_MAX. */
int sluice_url_host(const char *s, size_t len, char *out, size_t cap);

/* The one rule for which copy of a repeated query parameter or cookie is read: the first with a
 * value, or the first when none has one ("?_dft=&_dft=T" gives T, "_ga=; _ga=GA1..." the second).
 * Used by sluice_url_param, sluice_url_params_raw and the gateway's sluice_http_query and
 * sluice_http_cookie. 1 when a copy of len bytes is to be kept over the one kept so far: kept
 * (NULL: none yet) of kept_len bytes. */
int sluice_url_better_copy(const void *kept, size_t kept_len, size_t len);

/* Looks for the query parameter `name` in the NUL-terminated url (the part between '?' and '#';
 * a url that starts with '?' is a bare query string such as location.search). Its first copy
 * with a value (an empty copy only when no copy has one: "?gclid=&gclid=Cj0" gives "Cj0") is
 * percent-decoded ('+' is a space) into out plus a NUL, its length in *out_len.
 * Returns 1 when found and decoded, 0 when absent, -1 when present but badly encoded (a bad
 * escape or an encoded NUL) or longer than cap - 1 (out is then the empty string). */
int sluice_url_param(const char *url, const char *name, char *out, size_t cap, size_t *out_len);

/* One pass over url's query for several names at once: for each names[i], the raw (still
 * encoded) value of the copy sluice_url_param takes (the first with a value), in values[i] (base NULL
 * when absent; a parameter without '=' has an empty value). Names are compared after
 * percent-decoding, like sluice_url_param's. Returns how many names were found. */
size_t sluice_url_params_raw(const char *url, const char *const *names, size_t count, struct iovec *values);

/* Removes every query parameter called `name` (compared after percent-decoding the parameter
 * name) from the NUL-terminated url in place, with its '&' or the '?' that is no longer needed;
 * the rest of the query and the fragment are kept in order. Returns the number of parameters
 * removed. */
size_t sluice_url_remove_param(char *url, const char *name);

/* Removes the user information ("user:password@") from the NUL-terminated url in place: of an
 * absolute URL ("https://user:pw@host/") or a scheme-relative one ("//user:pw@host/"), up to the
 * authority's last '@', as browsers read it. Returns 1 when something was removed, else 0. */
int sluice_url_remove_userinfo(char *url);

#endif
