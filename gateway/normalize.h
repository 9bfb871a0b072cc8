/*
 * PII normalisers applied before SHA-256 hashing (data flow step 7, `hash_fields`).
 *
 * Vendors normalise differently (VENDORS.md): Meta wants phone digits without `+`, Google and
 * TikTok want E.164 with `+`, Google also removes dots from gmail local parts, Reddit matches
 * e-mails by their canonical local part (no `+alias`, letters and digits only). The org's
 * default variant is Meta's; the other variants are computed only where an integration needs
 * them and travel in the envelope's `hashes`.
 *
 * Pure functions over caller buffers; any thread.
 */
#ifndef SLUICE_GATEWAY_NORMALIZE_H
#define SLUICE_GATEWAY_NORMALIZE_H

#include <stddef.h>

#include "config/config.h"
#include "vendors/vendor.h"

typedef enum sluice_hash_variant {
    SLUICE_VARIANT_DEFAULT = 0, /* Meta's rules; what the field itself holds */
    SLUICE_VARIANT_GOOGLE = 1,  /* GA4 / Google Ads */
    SLUICE_VARIANT_TIKTOK = 2,
    SLUICE_VARIANT_REDDIT = 3, /* phones as TikTok; e-mails canonicalised (no alias, only [a-z0-9] before '@') */
    SLUICE_VARIANT_COUNT = 4,
} sluice_hash_variant_t;

/* "default", "google", "tiktok", "reddit" (the names used as keys in the envelope's `hashes`). */
const char *sluice_hash_variant_name(sluice_hash_variant_t v);

/* "google" → SLUICE_VARIANT_GOOGLE ...; NULL or unknown names give the default. */
sluice_hash_variant_t sluice_hash_variant_parse(const char *name);

/* The variant a vendor's worker reads (its descriptor's hash_variant). */
sluice_hash_variant_t sluice_hash_variant_for_vendor(sluice_vendor_kind_t vendor);

/* 1 when normaliser n gives a different result under variant v than under the default for
 * some input (so the gateway knows which variants are worth computing). */
int sluice_normalize_variant_differs(sluice_normalizer_t n, sluice_hash_variant_t v);

/* Normalises the UTF-8 value in[0..len) by rule n for variant v into out (not NUL-terminated).
 * default_cc: digits of the default country code for phones, or NULL.
 * Returns the output length, or -1 when the value cannot be normalised (empty after
 * normalising, not a recognisable gender, date or country, or longer than cap): the caller
 * then removes the field rather than hashing garbage. */
long sluice_normalize(sluice_normalizer_t n, sluice_hash_variant_t v, const char *in, size_t len,
                      const char *default_cc, char *out, size_t cap);

/* 1 when s is exactly 64 lowercase hex digits (an already-hashed value, left alone). */
int sluice_is_sha256_hex(const char *s, size_t len);

/* A hash sent in capitals (.NET's Convert.ToHexString, many SQL HASHBYTES exports) is the same
 * hash: writes its lowercase form into out (64 digits and a NUL) and returns 0, or -1 when s is
 * not 64 hex digits of either case. */
int sluice_sha256_hex_lower(const char *s, size_t len, char out[65]);

#endif
