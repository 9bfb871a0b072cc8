/*
 * Geolocation with libmaxminddb (geo.h). Opened on the main thread; looked up from every loop
 * thread at once (libmaxminddb's lookups only read the mapped copy).
 */
#include "enrich/geo.h"

#include <maxminddb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/memfile.h"
#include "common/utf8.h"

struct sluice_geo {
    atomic_uint refs;
    MMDB_s db;
};

sluice_geo_t *sluice_geo_open(const char *path, sluice_err_t *err)
{
    sluice_geo_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    /* libmaxminddb maps what it opens, so it is given a copy in memory (common/memfile.h): with
     * the file itself mapped, an operator's `cp new.mmdb city.mmdb` (which truncates the file,
     * then writes it) took the pages away from under lookups running on every loop thread, and
     * the next one killed the gateway with SIGBUS. A copy also makes a file half written at open
     * time fail cleanly as "not a database" rather than change later. It costs the file's size
     * in memory per open database (the gateway's reloads share one while the file is unchanged:
     * gateway/enrichment.c). */
    int fd = sluice_memfile_copy(path, "sluice-geo", err);
    if (fd == -1) {
        free(g);
        return NULL;
    }
    int rc = MMDB_IO_ERROR;
    if (fd >= 0) {
        /* libmaxminddb opens by name; the mapping it makes keeps the memory file alive. */
        char own[64];
        snprintf(own, sizeof(own), "/proc/self/fd/%d", fd);
        rc = MMDB_open(own, MMDB_MODE_MMAP, &g->db);
        close(fd);
    }
    if (rc == MMDB_IO_ERROR) /* no memory file, or no /proc: the file itself, mapped as it is */
        rc = MMDB_open(path, MMDB_MODE_MMAP, &g->db);
    if (rc != MMDB_SUCCESS) {
        sluice_err_set(err, "%s: %s", path, rc == MMDB_IO_ERROR ? "cannot be read" : MMDB_strerror(rc));
        free(g);
        return NULL;
    }
    atomic_init(&g->refs, 1);
    return g;
}

sluice_geo_t *sluice_geo_acquire(sluice_geo_t *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void sluice_geo_close(sluice_geo_t *g)
{
    if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    MMDB_close(&g->db);
    free(g);
}

const char *sluice_geo_type(const sluice_geo_t *g)
{
    return g->db.metadata.database_type ? g->db.metadata.database_type : "?";
}

uint64_t sluice_geo_build_epoch(const sluice_geo_t *g)
{
    return g->db.metadata.build_epoch;
}

/* The string at the path of the NULL-terminated list into out; 1 when found. */
static int get_string(MMDB_entry_s *e, char *out, size_t cap, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return 0;
    size_t n = sluice_utf8_cut(d.utf8_string, d.data_size, cap - 1); /* half a character: no JSON string */
    memcpy(out, d.utf8_string, n);
    out[n] = '\0';
    return 1;
}

int sluice_geo_lookup(const sluice_geo_t *g, const char *ip, sluice_geo_granularity_t granularity,
                      sluice_geo_result_t *out)
{
    memset(out, 0, sizeof(*out));
    /* An IPv4 peer of a dual-stack socket: looked up as IPv4 (not every database aliases
     * ::ffff:0:0/96 to its IPv4 tree). */
    if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
        ip += 7;
    int gai = 0, mmdb = 0;
    MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)&g->db, ip, &gai, &mmdb);
    if (gai != 0 || mmdb != MMDB_SUCCESS)
        return -1;
    if (!r.found_entry)
        return 0;
    MMDB_entry_s *e = &r.entry;
    static const char *const country_iso[] = {"country", "iso_code", NULL};
    static const char *const country_en[] = {"country", "names", "en", NULL};
    static const char *const flat_country[] = {"country_code", NULL};
    if (!get_string(e, out->country_code, sizeof(out->country_code), country_iso))
        get_string(e, out->country_code, sizeof(out->country_code), flat_country);
    get_string(e, out->country, sizeof(out->country), country_en);
    if (granularity >= SLUICE_GEO_REGION) {
        static const char *const sub_iso[] = {"subdivisions", "0", "iso_code", NULL};
        static const char *const sub_en[] = {"subdivisions", "0", "names", "en", NULL};
        static const char *const flat_state[] = {"state1", NULL};
        get_string(e, out->region_code, sizeof(out->region_code), sub_iso);
        if (!get_string(e, out->region, sizeof(out->region), sub_en))
            get_string(e, out->region, sizeof(out->region), flat_state);
    }
    if (granularity >= SLUICE_GEO_CITY) {
        static const char *const city_en[] = {"city", "names", "en", NULL};
        static const char *const flat_city[] = {"city", NULL};
        if (!get_string(e, out->city, sizeof(out->city), city_en))
            get_string(e, out->city, sizeof(out->city), flat_city);
    }
    return out->country_code[0] != '\0' || out->country[0] != '\0' ? 1 : 0;
}
