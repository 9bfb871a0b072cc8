/*
 * The plugin loader: dlopen and descriptor checks (nothing of the plugin runs before its
 * prefix, size and signature are known good), instances with validated parameters, the host
 * function table handed to plugins, and the guarded mask call (per-thread contexts created
 * lazily, host-owned output with a cap and a UTF-8 check, per-thread counters).
 *
 * Threading: lib open/close and instance create/destroy on one thread at a time (config load,
 * or whichever thread frees a retired runtime); instance_mask from many threads at once, each
 * with its own thread index, which selects the only slot that thread writes.
 */
#include "plugins/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/memfile.h"
#include "crypto/aead.h"
#include "crypto/ct.h"
#include "crypto/random.h"
#include "pii/scan.h"
#include "plugins/params.h"

/* ------------------------------------------------------------------ libraries */

struct sluice_plugin_lib {
    void *handle;
    int copy_fd; /* the memory file the library was loaded from (own_copy), or -1 */
    char *path;
    sluice_mask_plugin_t desc; /* host-sized copy; members past declared_size are zero */
    uint32_t declared_size;
};

/* The fixed prefix, as every ABI version lays it out. */
typedef struct prefix {
    uint32_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t descriptor_size;
    uint32_t build_signature;
} prefix_t;

/* The symbol-type field of an ElfW(Sym) (same layout in 32- and 64-bit ELF). */
#if UINTPTR_MAX > 0xffffffffu
#define SYM_TYPE(info) ELF64_ST_TYPE(info)
#else
#define SYM_TYPE(info) ELF32_ST_TYPE(info)
#endif

/* Size of the ABI 1.0 descriptor: the least a v1 plugin can declare. */
#define DESC_SIZE_1_0 (offsetof(sluice_mask_plugin_t, selftest) + sizeof(((sluice_mask_plugin_t *)0)->selftest))

static void describe_signature(uint32_t sig, char *buf, size_t len)
{
    unsigned endian = sig & 0xffu;
    snprintf(buf, len, "%u-byte pointers, %u-byte size_t, %s", (sig >> 16) & 0xffu, (sig >> 8) & 0xffu,
             endian == 1   ? "little-endian"
             : endian == 2 ? "big-endian"
                           : "unknown byte order");
}

static int valid_plugin_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Checks the exported object and fills lib->desc. No plugin code runs here. */
/* 1 when p is an address inside the loaded object whose base is base (NULL is not). */
static int in_plugin(const void *base, const void *p)
{
    Dl_info info;
    return p != NULL && dladdr(p, &info) != 0 && info.dli_fbase == base;
}

static int check_descriptor(sluice_plugin_lib_t *lib, sluice_err_t *err)
{
    dlerror();
    void *sym = dlsym(lib->handle, SLUICE_MASK_PLUGIN_SYMBOL);
    if (sym == NULL) {
        for (int v = 2; v <= 9; v++) {
            char name[32];
            snprintf(name, sizeof(name), "sluice_mask_plugin_v%d", v);
            if (dlsym(lib->handle, name) != NULL)
                return sluice_err_set(err,
                                      "built for ABI %d (exports %s); this gateway speaks ABI %d: rebuild the "
                                      "plugin against this gateway's mask_plugin.h",
                                      v, name, SLUICE_MASK_ABI_MAJOR);
        }
        return sluice_err_set(err, "not a sluice masking plugin: it exports no symbol '" SLUICE_MASK_PLUGIN_SYMBOL
                                   "' (define it with SLUICE_MASK_PLUGIN(...))");
    }
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    struct link_map *own = NULL, *where = NULL;
    if (dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) == 0 || es == NULL ||
        dladdr1(sym, &info, (void **)&where, RTLD_DL_LINKMAP) == 0 || dlinfo(lib->handle, RTLD_DI_LINKMAP, &own) != 0)
        return sluice_err_set(err, "cannot inspect symbol '" SLUICE_MASK_PLUGIN_SYMBOL "'");
    if (own == NULL || where != own)
        return sluice_err_set(err, "'" SLUICE_MASK_PLUGIN_SYMBOL "' is not defined by this file but by a "
                                   "library it depends on");
    if (SYM_TYPE(es->st_info) != STT_OBJECT)
        return sluice_err_set(err, "'" SLUICE_MASK_PLUGIN_SYMBOL "' is not a data object (it must be the "
                                   "const descriptor, not a function)");
    size_t object_size = (size_t)es->st_size;
    if (object_size < sizeof(prefix_t))
        return sluice_err_set(err,
                              "short descriptor: '" SLUICE_MASK_PLUGIN_SYMBOL "' is %zu bytes, less than the "
                              "%zu-byte fixed prefix",
                              object_size, sizeof(prefix_t));
    prefix_t p;
    memcpy(&p, sym, sizeof(p));
    if (p.magic != SLUICE_MASK_MAGIC)
        return sluice_err_set(err, "not a sluice masking plugin: bad magic 0x%08x (expected 0x%08x)", (unsigned)p.magic,
                              (unsigned)SLUICE_MASK_MAGIC);
    if (p.build_signature != SLUICE_MASK_BUILD_SIGNATURE) {
        char theirs[96], ours[96];
        describe_signature(p.build_signature, theirs, sizeof(theirs));
        describe_signature(SLUICE_MASK_BUILD_SIGNATURE, ours, sizeof(ours));
        return sluice_err_set(err, "built for another platform (%s; this gateway: %s)", theirs, ours);
    }
    if (p.abi_major != SLUICE_MASK_ABI_MAJOR)
        return sluice_err_set(err,
                              "built for ABI %u.%u; this gateway speaks ABI %d: rebuild the plugin against "
                              "this gateway's mask_plugin.h",
                              p.abi_major, p.abi_minor, SLUICE_MASK_ABI_MAJOR);
    if (p.abi_minor > SLUICE_MASK_ABI_MINOR)
        return sluice_err_set(err,
                              "built for ABI %u.%u, newer than this gateway's %d.%d: upgrade the gateway or "
                              "rebuild the plugin against its mask_plugin.h",
                              p.abi_major, p.abi_minor, SLUICE_MASK_ABI_MAJOR, SLUICE_MASK_ABI_MINOR);
    if (p.descriptor_size < DESC_SIZE_1_0)
        return sluice_err_set(err, "short descriptor: it declares %u bytes, ABI 1.0 needs %zu",
                              (unsigned)p.descriptor_size, DESC_SIZE_1_0);
    if (p.descriptor_size > object_size)
        return sluice_err_set(err, "descriptor declares %u bytes but the exported object is only %zu",
                              (unsigned)p.descriptor_size, object_size);
    if (p.descriptor_size > sizeof(sluice_mask_plugin_t))
        return sluice_err_set(err, "descriptor declares %u bytes, more than ABI %u.%u's %zu",
                              (unsigned)p.descriptor_size, p.abi_major, p.abi_minor, sizeof(sluice_mask_plugin_t));

    /* Read only what the plugin declared: later members stay zero, i.e. absent. */
    memset(&lib->desc, 0, sizeof(lib->desc));
    memcpy(&lib->desc, sym, p.descriptor_size);
    lib->declared_size = p.descriptor_size;

    const sluice_mask_plugin_t *d = &lib->desc;
    /* Every pointer the descriptor hands over is followed below: each must point into the plugin
     * itself (a forgotten {0} made the map run on into whatever followed it, and a name of 0x1
     * crashed the loader: `config check` and, on SIGHUP, the running gateway). */
    const void *base = info.dli_fbase;
    if (!in_plugin(base, d->name) || !in_plugin(base, d->version) ||
        (d->description != NULL && !in_plugin(base, d->description)))
        return sluice_err_set(err, "descriptor: name, version or description points outside the plugin");
    if (d->config != NULL) {
        for (int n = 0; n <= SLUICE_PLUGIN_MAP_MAX; n++) {
            const sluice_mask_config_entry_t *e = &d->config[n];
            if (!in_plugin(base, e) || !in_plugin(base, (const char *)(e + 1) - 1))
                return sluice_err_set(err,
                                      "descriptor of '%s': config map entry %d lies outside the plugin (is the map "
                                      "{0}-terminated?)",
                                      in_plugin(base, d->name) ? d->name : "?", n);
            if (e->name == NULL)
                break;
            if (!in_plugin(base, e->name) || (e->default_value != NULL && !in_plugin(base, e->default_value)) ||
                (e->description != NULL && !in_plugin(base, e->description)))
                return sluice_err_set(err,
                                      "descriptor of '%s': config map entry %d points outside the plugin (is the map "
                                      "{0}-terminated?)",
                                      d->name, n);
        }
    }
    if (d->name == NULL)
        return sluice_err_set(err, "descriptor: name is missing");
    if (!valid_plugin_name(d->name)) {
        char shown[80];
        size_t k = 0;
        for (const char *c = d->name; *c && k + 1 < sizeof(shown); c++) /* control characters shown as '?' */
            shown[k++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
        shown[k] = '\0';
        return sluice_err_set(err, "descriptor: name '%s' is not 1..64 characters of [a-z0-9_-]", shown);
    }
    if (d->version == NULL || d->version[0] == '\0')
        return sluice_err_set(err, "descriptor of '%s': version is missing", d->name);
    if (d->create == NULL || d->destroy == NULL || d->mask == NULL)
        return sluice_err_set(err, "descriptor of '%s': create, destroy and mask are required", d->name);
    if ((d->thread_init == NULL) != (d->thread_dispose == NULL))
        return sluice_err_set(err, "descriptor of '%s': thread_init and thread_dispose come as a pair", d->name);
    uint32_t known = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT;
    if ((d->flags & ~known) != 0)
        return sluice_err_set(err, "descriptor of '%s': unknown flags 0x%x", d->name, (unsigned)(d->flags & ~known));
    if (sluice_plugin_map_check(d->config, err) < 0)
        return sluice_err_prefix(err, "descriptor of '%s'", d->name);
    return 0;
}

/* The library is loaded from a copy in a sealed memory file of the process's own, not from the
 * file itself, for two reasons. The dynamic loader hands back the library already in memory for
 * a path (or an inode) it has loaded: a new version installed under the same path and a SIGHUP
 * went on running the old version while the log said "config reloaded". And the file mapped
 * into the process is the one on disk: `cp` over it rewrote the code under the loop threads.
 * Each config generation gets the bytes the file holds when it loads. Returns the memory file,
 * or -1 when none can be made (the file is then loaded by path, as before). */
static int own_copy(const char *abs, const char *path)
{
    /* Named after the file (its end, past the kernel's 249 bytes), as /proc/<pid>/maps and a
     * core dump then show it: "/memfd:sluice-plugin:/opt/acme/plugins/x.so (deleted)". */
    char label[250];
    size_t len = strlen(path), keep = sizeof(label) - 1 - strlen("sluice-plugin:");
    snprintf(label, sizeof(label), "sluice-plugin:%s", len > keep ? path + (len - keep) : path);
    int fd = sluice_memfile_copy(abs, label, NULL);
    return fd >= 0 ? fd : -1;
}

/* "/proc/self/fd/<copy_fd>" into name, a name no library in the process is known by: the loader
 * matches names before inodes, and a library that stayed in memory after its dlclose (one marked
 * NODELETE) keeps the name of a descriptor number since reused. 0, or -1 (load by path). */
static int copy_name(sluice_plugin_lib_t *lib, char *name, size_t cap)
{
    for (int tries = 0; tries < 8; tries++) {
        snprintf(name, cap, "/proc/self/fd/%d", lib->copy_fd);
        void *there = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
        if (there == NULL)
            return 0;
        dlclose(there);
        int other = fcntl(lib->copy_fd, F_DUPFD_CLOEXEC, lib->copy_fd + 1);
        close(lib->copy_fd);
        lib->copy_fd = other;
        if (other < 0)
            return -1;
    }
    return -1;
}

sluice_plugin_lib_t *sluice_plugin_lib_open(const char *path, sluice_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        sluice_err_set(err, "cannot open plugin %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        sluice_err_set(err, "cannot open plugin %s: not a regular file", path);
        return NULL;
    }
    /* Code the gateway runs with the event data and its keys: not one every user may rewrite. */
    if (st.st_mode & S_IWOTH) {
        sluice_err_set(err, "refusing plugin %s: every user may write it (chmod o-w)", path);
        return NULL;
    }
    sluice_plugin_lib_t *lib = calloc(1, sizeof(*lib));
    if (lib == NULL || (lib->path = strdup(path)) == NULL) {
        free(lib);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    lib->copy_fd = -1;
    /* A name without '/' would make dlopen search the system library path instead of the file
     * that was just checked. */
    char *abs = realpath(path, NULL);
    if (abs == NULL) {
        sluice_err_set(err, "cannot open plugin %s: %s", path, strerror(errno));
        sluice_plugin_lib_close(lib);
        return NULL;
    }
    char name[64] = "";
    lib->copy_fd = own_copy(abs, path);
    if (lib->copy_fd >= 0 && copy_name(lib, name, sizeof(name)) != 0 && lib->copy_fd >= 0) {
        close(lib->copy_fd);
        lib->copy_fd = -1;
    }
    lib->handle = lib->copy_fd >= 0 ? dlopen(name, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (lib->handle == NULL && lib->copy_fd >= 0) {
        /* A plugin shipped with a library of its own beside it finds it through $ORIGIN, which for
         * the copy is /proc/self/fd: the copy does not load. Loaded by path, the gateway ran the
         * file on disk, and `cp` over it rewrote the code under the loop threads. The file is
         * loaded by path only until the copy has loaded: the copy's dependencies are then found
         * among the libraries already loaded (by name), and the file itself is let go. */
        dlerror();
        void *by_path = dlopen(abs, RTLD_NOW | RTLD_LOCAL);
        if (by_path != NULL) {
            lib->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
            dlclose(by_path);
        }
    }
    if (lib->handle == NULL) {
        /* By path: no memory file, or the copy did not load (a broken file then gets the loader's
         * reason with its real name; a plugin finding its own libraries through $ORIGIN loads). */
        if (lib->copy_fd >= 0)
            close(lib->copy_fd);
        lib->copy_fd = -1;
        dlerror();
        lib->handle = dlopen(abs, RTLD_NOW | RTLD_LOCAL);
    }
    free(abs);
    if (lib->handle == NULL) {
        const char *why = dlerror();
        sluice_err_set(err, "cannot load plugin %s: %s", path, why ? why : "dlopen failed");
        sluice_plugin_lib_close(lib);
        return NULL;
    }
    if (check_descriptor(lib, err) != 0) {
        sluice_err_prefix(err, "plugin %s", path);
        sluice_plugin_lib_close(lib);
        return NULL;
    }
    return lib;
}

const sluice_mask_plugin_t *sluice_plugin_lib_descriptor(const sluice_plugin_lib_t *lib)
{
    return &lib->desc;
}

const char *sluice_plugin_lib_path(const sluice_plugin_lib_t *lib)
{
    return lib->path;
}

uint32_t sluice_plugin_lib_declared_size(const sluice_plugin_lib_t *lib)
{
    return lib->declared_size;
}

void sluice_plugin_lib_close(sluice_plugin_lib_t *lib)
{
    if (lib == NULL)
        return;
    if (lib->handle != NULL)
        dlclose(lib->handle);
    if (lib->copy_fd >= 0)
        close(lib->copy_fd); /* after dlclose: while the library is loaded, its name stays taken */
    free(lib->path);
    free(lib);
}

/* ------------------------------------------------------------------ output */

int sluice_plugin_output_init(sluice_mask_output_t *out, size_t max)
{
    memset(out, 0, sizeof(*out));
    out->max = max ? max : SLUICE_PLUGIN_OUTPUT_MAX;
    out->buf = malloc(out->max + 1);
    return out->buf == NULL ? -1 : 0;
}

void sluice_plugin_output_dispose(sluice_mask_output_t *out)
{
    if (out == NULL || out->buf == NULL)
        return;
    /* The output held a masked value (e.g. a pseudonym); leave nothing behind. */
    sluice_secure_zero(out->buf, out->max + 1);
    free(out->buf);
    out->buf = NULL;
}

/* ------------------------------------------------------------------ host table */

struct sluice_mask_handle {
    const char *plugin;
    const char *org;
    const char *rule;
    const sluice_keyring_t *keys;
    /* Set only while create and selftest run (one thread): seal and open mark the instance as
     * needing the key ring. NULL afterwards, so mask calls on many threads write nothing. */
    int *key_use;
};

/* What of a plugin's log line is read (the line written is cut at 400 bytes after the scan, so
 * that no address is cut into something the scanner no longer finds). */
#define PLUGIN_LOG_MAX 4096

/* A plugin's log line is its author's text. The SDK forbids values in it, but a third-party
 * plugin quoting the value it failed on ("cannot mask 'jane@example.com'") would put raw personal
 * data in the host's log: what the PII scanner finds in the line is replaced by "[<kind>]", as
 * redact_text would (out of memory: the line is not written). */
static void host_log(const sluice_mask_handle_t *self, int level, const char *msg)
{
    if (level < SLUICE_MASK_LOG_DEBUG || level > SLUICE_MASK_LOG_ERROR)
        level = SLUICE_MASK_LOG_ERROR;
    size_t n = msg != NULL ? strnlen(msg, PLUGIN_LOG_MAX) : 0;
    /* every replacement is at most one byte longer than its match ("a@b.co" -> "[email]") */
    char line[2 * PLUGIN_LOG_MAX + 1];
    size_t o = 0, p = 0;
    sluice_scan_t sc = {0};
    if (n > 0 && sluice_scan_may_match(msg, n)) {
        if (sluice_scan(&sc, msg, n,
                        SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN |
                            SLUICE_SCAN_NATIONAL_IDS) != 0) {
            sluice_scan_dispose(&sc);
            return;
        }
        for (size_t i = 0; i < sc.count; i++) {
            memcpy(line + o, msg + p, sc.matches[i].start - p);
            o += sc.matches[i].start - p;
            o += (size_t)snprintf(line + o, sizeof(line) - o, "[%s]", sluice_scan_kind_name(sc.matches[i].kind));
            p = sc.matches[i].end;
        }
    }
    sluice_scan_dispose(&sc);
    if (n > p)
        memcpy(line + o, msg + p, n - p);
    line[o + n - p] = '\0';
    /* Held per org and plugin: one org's chatty plugin leaves another org's plugin lines alone
     * (the handle's org is the config's, never the request's). */
    sluice_log_for((sluice_log_level_t)level, "plugin.log", self ? self->org : NULL, self ? self->plugin : NULL,
                   "plugin %s (org %s, rule %s): %.400s", self ? self->plugin : "?",
                   self && self->org ? self->org : "-", self && self->rule ? self->rule : "-", line);
}

static int host_append(sluice_mask_output_t *out, const void *bytes, size_t len)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return SLUICE_MASK_EINVAL;
    if (out->overflow || len > out->max - out->len) {
        out->overflow = 1;
        return SLUICE_MASK_ETOOBIG;
    }
    if (len > 0)
        memcpy(out->buf + out->len, bytes, len);
    out->len += len;
    return SLUICE_MASK_OK;
}

static int host_set_output_type(sluice_mask_output_t *out, int type)
{
    if (out == NULL || (type != SLUICE_MASK_OUT_STRING && type != SLUICE_MASK_OUT_JSON))
        return SLUICE_MASK_EINVAL;
    out->type = type;
    return SLUICE_MASK_OK;
}

static int64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int host_random_bytes(void *buf, size_t len)
{
    return sluice_random_bytes(buf, len) == 0 ? SLUICE_MASK_OK : SLUICE_MASK_EINTERNAL;
}

static int host_seal(const sluice_mask_handle_t *self, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *out_len)
{
    if (self != NULL && self->key_use != NULL)
        *self->key_use = 1;
    return sluice_plugin_seal(self ? self->keys : NULL, aad, aad_len, pt, pt_len, out, cap, out_len, NULL);
}

static int host_open(const sluice_mask_handle_t *self, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                     uint8_t *out, size_t cap, size_t *out_len)
{
    if (self != NULL && self->key_use != NULL)
        *self->key_use = 1;
    return sluice_plugin_open(self ? self->keys : NULL, aad, aad_len, in, n, out, cap, out_len, NULL);
}

static const sluice_mask_host_t host_table = {
    .size = sizeof(sluice_mask_host_t),
    .abi_major = SLUICE_MASK_ABI_MAJOR,
    .abi_minor = SLUICE_MASK_ABI_MINOR,
    .log = host_log,
    .append = host_append,
    .set_output_type = host_set_output_type,
    .ct_equal = sluice_ct_equal,
    .secure_zero = sluice_secure_zero,
    .config_string = sluice_plugin_params_string,
    .config_int = sluice_plugin_params_int,
    .config_bool = sluice_plugin_params_bool,
    .config_double = sluice_plugin_params_double,
    .config_list_count = sluice_plugin_params_list_count,
    .config_list_item = sluice_plugin_params_list_item,
    .config_is_set = sluice_plugin_params_is_set,
    .now_ms = host_now_ms,
    .random_bytes = host_random_bytes,
    .seal = host_seal,
    .open = host_open,
};

/* ------------------------------------------------------------------ sealing */

/* domain ‖ NUL ‖ aad into a buffer the caller frees. */
static uint8_t *domain_aad(const void *aad, size_t aad_len, size_t *len)
{
    size_t dl = sizeof(SLUICE_PLUGIN_SEAL_DOMAIN); /* with its NUL */
    if (aad_len > SIZE_MAX - dl)
        return NULL;
    uint8_t *b = malloc(dl + aad_len);
    if (b == NULL)
        return NULL;
    memcpy(b, SLUICE_PLUGIN_SEAL_DOMAIN, dl);
    if (aad_len > 0)
        memcpy(b + dl, aad, aad_len);
    *len = dl + aad_len;
    return b;
}

int sluice_plugin_seal(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                       uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
{
    if (out_len != NULL)
        *out_len = 0;
    if (kr == NULL || sluice_keyring_primary_kid(kr) == 0) {
        sluice_err_set(err, "no key ring (set ENCRYPTION_KEY)");
        return SLUICE_MASK_ECONFIG;
    }
    if (out == NULL || out_len == NULL || (aad == NULL && aad_len > 0) || (pt == NULL && pt_len > 0) ||
        pt_len > SIZE_MAX - SLUICE_AEAD_OVERHEAD || cap < pt_len + SLUICE_AEAD_OVERHEAD) {
        sluice_err_set(err, "seal: output buffer too small or bad arguments");
        return SLUICE_MASK_EINVAL;
    }
    size_t al;
    uint8_t *a = domain_aad(aad, aad_len, &al);
    if (a == NULL) {
        sluice_err_set(err, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    int rc = sluice_aead_seal(kr, a, al, pt, pt_len, out, cap, out_len, err);
    free(a);
    return rc == 0 ? SLUICE_MASK_OK : SLUICE_MASK_EINTERNAL;
}

int sluice_plugin_open(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                       uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
{
    if (out_len != NULL)
        *out_len = 0;
    if (kr == NULL || sluice_keyring_count(kr) == 0) {
        sluice_err_set(err, "no key ring (set ENCRYPTION_KEY)");
        return SLUICE_MASK_ECONFIG;
    }
    if (out == NULL || out_len == NULL || (aad == NULL && aad_len > 0) || (in == NULL && n > 0)) {
        sluice_err_set(err, "open: bad arguments");
        return SLUICE_MASK_EINVAL;
    }
    size_t al;
    uint8_t *a = domain_aad(aad, aad_len, &al);
    if (a == NULL) {
        sluice_err_set(err, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    int rc = sluice_aead_open(kr, a, al, in, n, out, cap, out_len, err);
    free(a);
    if (rc == SLUICE_AEAD_OK)
        return SLUICE_MASK_OK;
    return rc == SLUICE_AEAD_EINTERNAL ? SLUICE_MASK_EINTERNAL : SLUICE_MASK_EINVAL;
}

/* ------------------------------------------------------------------ instances */

/* One thread's slot: its context and counters, on a cache line of its own. */
typedef struct slot {
    _Alignas(64) void *ctx;
    int ready;
    _Atomic uint64_t calls;
    _Atomic uint64_t errors;
} slot_t;

struct sluice_plugin_instance {
    sluice_plugin_lib_t *lib;
    const sluice_mask_plugin_t *d;
    void *inst;
    struct sluice_mask_handle handle;
    int uses_keys; /* seal or open was called during create or selftest */
    char *org;
    char *rule;
    unsigned nthreads;
    slot_t *slots;
};

/* Single-writer increment: only the slot's thread writes it; scrapes read relaxed. */
static void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void instance_free(sluice_plugin_instance_t *pi)
{
    free(pi->slots);
    free(pi->org);
    free(pi->rule);
    free(pi);
}

int sluice_plugin_instance_create(sluice_plugin_lib_t *lib, const sluice_plugin_instance_opts_t *opts,
                                  sluice_plugin_instance_t **out, sluice_config_diag_t *diag)
{
    *out = NULL;
    const sluice_mask_plugin_t *d = &lib->desc;
    const char *label = opts->label ? opts->label : "plugin";
    int skipped = 0;
    sluice_mask_config_t *cfg =
        sluice_plugin_params_build(d->config, d->name, opts->params, opts->pos, label, opts->flags, diag, &skipped);
    if (cfg == NULL)
        return skipped ? 1 : -1;
    const sluice_yaml_pos_t *where = opts->params != NULL ? &opts->params->pos : opts->pos;

    sluice_plugin_instance_t *pi = calloc(1, sizeof(*pi));
    unsigned nthreads = opts->nthreads ? opts->nthreads : 1;
    if (pi != NULL) {
        pi->slots = aligned_alloc(_Alignof(slot_t), nthreads * sizeof(slot_t));
        pi->org = strdup(opts->org ? opts->org : "-");
        pi->rule = strdup(opts->rule_path ? opts->rule_path : "-");
    }
    if (pi == NULL || pi->slots == NULL || pi->org == NULL || pi->rule == NULL) {
        sluice_plugin_params_free(cfg);
        if (pi != NULL)
            instance_free(pi);
        sluice_config_diag_add(diag, where, "%s: out of memory creating plugin '%s'", label, d->name);
        return -1;
    }
    memset(pi->slots, 0, nthreads * sizeof(slot_t));
    pi->lib = lib;
    pi->d = d;
    pi->nthreads = nthreads;
    pi->handle = (struct sluice_mask_handle){
        .plugin = d->name, .org = pi->org, .rule = pi->rule, .keys = opts->keys, .key_use = &pi->uses_keys};

    char msg[256] = "";
    int rc = d->create(&host_table, &pi->handle, cfg, &pi->inst, msg, sizeof(msg));
    sluice_plugin_params_free(cfg); /* wipes secrets: the plugin had its chance to copy them */
    msg[sizeof(msg) - 1] = '\0';
    if (rc != SLUICE_MASK_OK) {
        /* A failed create owns its cleanup (header contract); the host never destroys it. */
        if (rc > 0) /* UNCHANGED, REMOVE or unknown: not a status create returns; msg is not read */
            sluice_config_diag_add(diag, where,
                                   "%s: plugin '%s' (%s) create returned status %d, which is neither SLUICE_MASK_OK "
                                   "nor an error (a plugin bug)",
                                   label, d->name, lib->path, rc);
        else
            sluice_config_diag_add(diag, where, "%s: plugin '%s' (%s) refused its configuration: %s", label, d->name,
                                   lib->path, msg[0] ? msg : sluice_mask_strerror(rc));
        instance_free(pi);
        return -1;
    }
    if (d->selftest != NULL) {
        msg[0] = '\0';
        rc = d->selftest(pi->inst, msg, sizeof(msg));
        msg[sizeof(msg) - 1] = '\0';
        if (rc != SLUICE_MASK_OK) {
            sluice_config_diag_add(diag, where, "%s: plugin '%s' (%s) failed its selftest: %s", label, d->name,
                                   lib->path, msg[0] ? msg : sluice_mask_strerror(rc));
            sluice_plugin_instance_destroy(pi);
            return -1;
        }
    }
    pi->handle.key_use = NULL;
    *out = pi;
    return 0;
}

int sluice_plugin_instance_uses_keys(const sluice_plugin_instance_t *inst)
{
    return inst != NULL && inst->uses_keys;
}

int sluice_plugin_instance_mask(sluice_plugin_instance_t *pi, unsigned thread, const sluice_mask_input_t *in,
                                sluice_mask_output_t *out, const char **reason)
{
    slot_t *s = &pi->slots[thread];
    bump(&s->calls);
    out->len = 0;
    out->type = SLUICE_MASK_OUT_STRING;
    out->overflow = 0;
    const char *why = NULL;
    int rc;
    if (pi->d->thread_init != NULL && !s->ready) {
        rc = pi->d->thread_init(pi->inst, &s->ctx);
        if (rc != SLUICE_MASK_OK) {
            s->ctx = NULL;
            why = "thread_init failed";
            rc = rc < 0 ? rc : SLUICE_MASK_EINTERNAL;
            goto fail;
        }
        s->ready = 1;
    }
    rc = pi->d->mask(pi->inst, s->ctx, in, out);
    if (rc < 0) {
        why = sluice_mask_strerror(rc);
        goto fail;
    }
    if (rc > SLUICE_MASK_REMOVE) {
        why = "plugin returned an unknown status";
        rc = SLUICE_MASK_EINTERNAL;
        goto fail;
    }
    if (rc == SLUICE_MASK_OK) {
        if (out->overflow) {
            why = "output over the size cap";
            rc = SLUICE_MASK_ETOOBIG;
            goto fail;
        }
        if (out->type == SLUICE_MASK_OUT_STRING && !sluice_plugin_utf8_valid(out->buf, out->len)) {
            why = "output is not valid UTF-8";
            rc = SLUICE_MASK_EINVAL;
            goto fail;
        }
        out->buf[out->len] = '\0';
    }
    return rc;
fail:
    bump(&s->errors);
    out->len = 0;
    if (reason != NULL)
        *reason = why;
    return rc;
}

void sluice_plugin_instance_count_error(sluice_plugin_instance_t *pi, unsigned thread)
{
    bump(&pi->slots[thread].errors);
}

void sluice_plugin_instance_destroy(sluice_plugin_instance_t *pi)
{
    if (pi == NULL)
        return;
    for (unsigned t = 0; t < pi->nthreads; t++) {
        if (pi->slots[t].ready)
            pi->d->thread_dispose(pi->inst, pi->slots[t].ctx);
    }
    pi->d->destroy(pi->inst);
    instance_free(pi);
}

const sluice_plugin_lib_t *sluice_plugin_instance_lib(const sluice_plugin_instance_t *pi)
{
    return pi->lib;
}

const char *sluice_plugin_instance_name(const sluice_plugin_instance_t *pi)
{
    return pi->d->name;
}

const char *sluice_plugin_instance_org(const sluice_plugin_instance_t *pi)
{
    return pi->org;
}

const char *sluice_plugin_instance_rule(const sluice_plugin_instance_t *pi)
{
    return pi->rule;
}

uint64_t sluice_plugin_instance_calls(const sluice_plugin_instance_t *pi)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < pi->nthreads; t++)
        n += atomic_load_explicit(&pi->slots[t].calls, memory_order_relaxed);
    return n;
}

uint64_t sluice_plugin_instance_errors(const sluice_plugin_instance_t *pi)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < pi->nthreads; t++)
        n += atomic_load_explicit(&pi->slots[t].errors, memory_order_relaxed);
    return n;
}

/* ------------------------------------------------------------------ UTF-8 */

int sluice_plugin_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Most outputs are ASCII whole (masks, hashes, truncated IPs): their words or-ed together and
     * tested once, the last word read where it ends (overlapping the one before), instead of a
     * test a word and then a round of the loop below for each byte of the tail. Any byte from
     * 0x80 sends the text through that loop from its start. */
    if (len >= 8) {
        uint64_t acc = 0, w;
        for (size_t j = 0; len - j > 8; j += 8) {
            memcpy(&w, s + j, 8);
            acc |= w;
        }
        memcpy(&w, s + len - 8, 8);
        if (((acc | w) & 0x8080808080808080ull) == 0)
            return 1;
    }
    size_t i = 0;
    while (i < len) {
        /* ASCII eight bytes at a time (most outputs are ASCII: masks, hashes, truncated IPs). */
        uint64_t w;
        while (len - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0))
            i += 8;
        if (i == len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}
