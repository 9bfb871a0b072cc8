/*
 * Vendor first-party ids and ad click ids, so server-side delivery matches what the vendors'
 * own pixels would have sent:
 *   Meta  _fbp = fb.1.<creation ms>.<10 random digits>        (90 days)
 *         _fbc = fb.1.<creation ms>.<fbclid>                   (90 days, when the page URL has fbclid)
 *   GA4   _ga  = GA1.1.<random uint32>.<creation unix seconds> (2 years)
 * and the click ids gclid, gbraid, wbraid (Google Ads), fbclid, ttclid, msclkid, li_fat_id (LinkedIn),
 * epik (Pinterest), ScCid (Snapchat) and rdt_cid (Reddit) from a page URL's query string.
 *
 * Pure functions over caller buffers (json values are new references); any thread.
 */
#ifndef SLUICE_IDENTITY_VENDOR_H
#define SLUICE_IDENTITY_VENDOR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SLUICE_VENDOR_FBP_MAX_AGE_S (90u * 86400u)
#define SLUICE_VENDOR_FBC_MAX_AGE_S (90u * 86400u)
#define SLUICE_VENDOR_GA_MAX_AGE_S  (730u * 86400u)
/* Longest fbclid (and any click id) taken from a URL. */
#define SLUICE_CLICK_ID_MAX 512
/* Room for any vendor cookie value this module writes or accepts. */
#define SLUICE_VENDOR_VALUE_MAX (SLUICE_CLICK_ID_MAX + 40)

/* Writes a new _fbp value into out (cap bytes, NUL added): the 10 digits are uniform over
 * 1000000000..9999999999. Returns 0, or -1 when cap is too small or randomness failed. */
int sluice_vendor_fbp(int64_t now_ms, char *out, size_t cap) __attribute__((warn_unused_result));

/* Writes fb.1.<now_ms>.<fbclid> into out. Returns 0, or -1 when fbclid is empty, longer than
 * SLUICE_CLICK_ID_MAX, not a valid cookie value, or out is too small. */
int sluice_vendor_fbc(int64_t now_ms, const char *fbclid, char *out, size_t cap);

/* The fbclid part of an _fbc value (after "fb.<n>.<ms>."), or NULL when fbc is not in that form.
 * Points into fbc. An _fbp has the same form ("fb.<n>.<ms>.<random>"): non-NULL is also what
 * Meta's own code takes as a valid _fbp or _fbc. */
const char *sluice_vendor_fbc_click(const char *fbc);

/* 1 when ga is an _ga value as gtag writes it, GA<n>.<n>.<random>.<seconds> (the last two parts
 * not checked for digits), else 0. */
int sluice_vendor_ga_valid(const char *ga);

/* Writes a new _ga value into out. Returns 0, or -1 when cap is too small or randomness failed. */
int sluice_vendor_ga(int64_t now_s, char *out, size_t cap) __attribute__((warn_unused_result));

/* The click ids found in url's query string, decoded, as a new object {"gclid":"...",...} with
 * the first occurrence of each; NULL when there is none. A badly encoded or over-long value is
 * skipped. */
json_t *sluice_click_ids(const char *url);

/* Called for each click id of a url with its name (static) and its decoded value (value[0..len),
 * not empty, no NUL; valid only during the call). Returns 1 when it kept the value, 0 when it
 * refused it (not UTF-8). */
typedef int (*sluice_click_keep_fn)(void *ud, const char *name, const char *value, size_t len);

/* The walk behind sluice_click_ids, for a tree of another kind (identity's jv twin): the same
 * names, copies and decoding, in the same order. Returns how many keep kept. */
size_t sluice_click_ids_each(const char *url, sluice_click_keep_fn keep, void *ud);

#endif
