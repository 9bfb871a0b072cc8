/*
 * Geolocation of a client address in a MaxMind-format database (libmaxminddb): country, region
 * (first subdivision) and city, as fine as the org's granularity asks. Both the GeoIP2/GeoLite2
 * layout (country.iso_code, subdivisions[0], city.names.en) and the flat layout of the
 * ip-location-db packages (country_code, state1, city) are read.
 *
 * The gateway looks up the full address before any mask (ip_truncate) runs; only the place
 * names leave this module. An opened database is read-only: any number of threads look up in it
 * at once. It is opened by the runtime on the main thread, so a SIGHUP reload reopens the file.
 */
#ifndef SLUICE_ENRICH_GEO_H
#define SLUICE_ENRICH_GEO_H

#include <stdint.h>

#include "common/err.h"
#include "config/config.h"

typedef struct sluice_geo sluice_geo_t;

typedef struct sluice_geo_result {
    char country_code[4]; /* ISO 3166-1 alpha-2 */
    char country[64];     /* English name */
    char region_code[8];  /* ISO 3166-2 subdivision code (without the country) */
    char region[64];
    char city[64];
} sluice_geo_result_t;

/* Opens the database at path (a private copy in memory, mapped: the file may change afterwards). Returns it (owned by
 * the caller), or NULL with libmaxminddb's reason in err. */
sluice_geo_t *sluice_geo_open(const char *path, sluice_err_t *err);
/* Another reference to g (runtimes of successive reloads share an unchanged database); any
 * thread. sluice_geo_close drops one; the last closes the database. */
sluice_geo_t *sluice_geo_acquire(sluice_geo_t *g);
void sluice_geo_close(sluice_geo_t *g);

/* The database's type ("GeoLite2-City") and build time (Unix seconds), for the log. */
const char *sluice_geo_type(const sluice_geo_t *g);
uint64_t sluice_geo_build_epoch(const sluice_geo_t *g);

/* Looks up the textual address ip (IPv4 or IPv6) and fills out down to granularity (parts
 * finer than it stay ""). Returns 1 when the database knows the address, 0 when it does not,
 * -1 when ip is not an address or the database is corrupt. Any thread. */
int sluice_geo_lookup(const sluice_geo_t *g, const char *ip, sluice_geo_granularity_t granularity,
                      sluice_geo_result_t *out);

#endif
