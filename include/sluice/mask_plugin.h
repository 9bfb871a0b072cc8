/*
 * sluice masking-plugin ABI, version 1: the only header a plugin author needs.
 *
 * sluice is an event-ingestion gateway. An operator's data layer lists `mask` rules, each naming
 * a JSON path, a plugin and its parameters:
 *
 *     mask:
 *       - path: properties.card_number
 *         plugin: /opt/acme/plugins/uppercase.so   # or a built-in name such as `partial`
 *         params: {prefix: "X-"}                    # a SECRET `key` is given as key_env: VAR
 *         on_error: remove                          # or `reject` (the whole event)
 *
 * A built-in name `x` loads `<plugins.dir>/x.so`; anything with a `/` or ending in `.so` is a path.
 * For every value such a path reaches, in every event, the gateway calls the plugin's `mask`
 * callback, which writes the replacement value, keeps the value, or asks for the field to be
 * removed. A plugin is a shared object exporting exactly one data symbol, the descriptor
 * `sluice_mask_plugin_v1` below. It links against nothing from sluice: every service it may use
 * (logging, output, config values, random bytes, the key ring...) comes from the host table
 * handed to `create`. C99, depends on <stdint.h> and <stddef.h> only.
 *
 * ---------------------------------------------------------------------------------------------
 * LIFE CYCLE
 *
 *   load      The host dlopen()s the .so (RTLD_NOW | RTLD_LOCAL), finds `sluice_mask_plugin_v1`
 *             and checks its prefix (magic, ABI major, ABI minor, descriptor size, build
 *             signature) BEFORE calling any plugin code. (dlopen itself would run ELF
 *             constructors: that is one reason a plugin must have none.) One .so may back many
 *             rules; it is opened once per config generation.
 *   validate  The host checks the rule's `params` against the plugin's declared config map
 *             (unknown key, wrong type, missing required key, secret given inline) and reports
 *             each problem as `file:line:col: message`. The plugin never parses YAML.
 *   create    Once per rule, on one thread, at config load (start-up or reload). Reads its
 *             parameters through the host's typed getters, validates what the map cannot
 *             express (ranges, combinations), precomputes keys and tables, and returns an
 *             instance. On failure it writes ONE sentence into `err` (no values, no secrets),
 *             which the operator sees as the reason the config was refused.
 *   selftest  Optional, right after create: known-answer vectors. A failure refuses the config.
 *   mask      The hot path, once per value, concurrently from every event-loop thread.
 *   destroy   Once per instance, when the config generation is retired (after a reload, or at
 *             shutdown), after every thread context of that instance has been disposed.
 *
 * Any failure during load (bad prefix, config error, create or selftest failing) rolls back
 * everything already done for the whole config: instances destroyed, handles closed. The old
 * config keeps serving on a reload; start-up is refused.
 *
 * ---------------------------------------------------------------------------------------------
 * THREADING (read this twice)
 *
 * - `mask` runs concurrently on ONE instance from every event-loop thread. The instance is
 *   immutable after `create` returns: never write to it from `mask`.
 * - Mutable state (scratch buffers, cipher contexts, caches) belongs in the per-thread context.
 *   When `thread_init` is set, the host calls it lazily on a worker thread, at that thread's
 *   first `mask` call for the instance, and passes its result to every later `mask` call on
 *   that thread only. `thread_dispose` may run on ANOTHER thread, after the owning thread has
 *   stopped using the context (for example while a reload retires the old config).
 * - `create`, `selftest` and `destroy` run on one thread, never concurrently with `mask` on the
 *   same instance.
 * - Forbidden everywhere: blocking (network, disk, sleeping, waiting on other threads), holding
 *   a lock across calls, signals and signal handlers, exit/abort, fork/exec, starting threads,
 *   ELF constructors/destructors (`__attribute__((constructor))`, C++ static objects with
 *   side effects), global mutable state, and aborting on out-of-memory (return ENOMEM).
 * - Same input and same config give the same output unless the descriptor omits
 *   SLUICE_MASK_FLAG_DETERMINISTIC (e.g. encryption with random nonces).
 *
 * ---------------------------------------------------------------------------------------------
 * MEMORY AND OWNERSHIP
 *
 * - The input (sluice_mask_input_t) is read-only and lives only during the `mask` call.
 * - The host owns the output. The plugin writes the replacement through host->append (any
 *   number of calls); the host caps its size (4096 bytes by default; over the cap → the call
 *   fails closed) and checks it is valid UTF-8. Never keep the output pointer after `mask`.
 * - Everything the plugin allocates belongs to the plugin; free it in destroy/thread_dispose.
 * - Strings from the config getters are valid only until `create` returns: copy them. SECRET
 *   values are wiped by the host after `create`; wipe your copies with host->secure_zero in
 *   destroy.
 *
 * ---------------------------------------------------------------------------------------------
 * FAIL CLOSED
 *
 * A negative status from `mask` (or an output over the cap, or invalid UTF-8) never lets the raw
 * value through: the field is removed, or the whole event rejected when the rule says
 * `on_error: reject`. The host counts it in sluice_plugin_errors_total{plugin,org,rule} and logs a
 * warning naming the plugin and the path, never the value. Plugins must keep to the same rule:
 * never put a value, a key or a secret in a log line or an error message.
 *
 * ---------------------------------------------------------------------------------------------
 * VERSIONING
 *
 * The first five members of the descriptor are fixed forever. A different ABI major is refused.
 * Minor versions only APPEND members to the descriptor, the host table and the input struct, so:
 * - a plugin built against an older minor is accepted; the host reads only `descriptor_size`
 *   bytes of its descriptor, so callbacks added later read as absent;
 * - a plugin built against a NEWER minor than the host is refused (it may rely on host members
 *   the host does not have);
 * - a plugin must test `host->size` (and `in->size`) before using a member added in a later
 *   minor, with SLUICE_MASK_HAS(host, sluice_mask_host_t, member).
 * The build signature records pointer size, size_t size and byte order; a plugin compiled for
 * another platform is refused before any of its code runs.
 *
 * ---------------------------------------------------------------------------------------------
 * EXAMPLE: a complete plugin (examples/plugin-uppercase/ has a buildable one)
 *
 *     #include <sluice/mask_plugin.h>
 *     #include <stdlib.h>
 *
 *     typedef struct { const sluice_mask_host_t *host; } inst_t;
 *
 *     static const sluice_mask_config_entry_t config[] = {
 *         {"prefix", SLUICE_MASK_CONF_STRING, 0, "\"\"", "text put before the value"},
 *         {0},
 *     };
 *
 *     static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self,
 *                       const sluice_mask_config_t *cfg, void **out, char *err, size_t err_len)
 *     {
 *         inst_t *in = calloc(1, sizeof(*in));
 *         if (in == NULL) return SLUICE_MASK_ENOMEM;
 *         in->host = host;
 *         *out = in;
 *         return SLUICE_MASK_OK;
 *     }
 *     static void destroy(void *in) { free(in); }
 *     static int mask(void *inst, void *tctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
 *     {
 *         const inst_t *self = inst;
 *         if (in->type != SLUICE_MASK_JSON_STRING) return SLUICE_MASK_UNCHANGED;
 *         return self->host->append(out, "***", 3);
 *     }
 *     SLUICE_MASK_PLUGIN(.name = "stars", .version = "1.0.0", .description = "replaces by ***",
 *                        .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC,
 *                        .create = create, .destroy = destroy, .mask = mask);
 *
 * Build:  cc -std=c99 -O2 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags sluice-plugin) \
 *            -o stars.so stars.c
 * Check:  sluicectl plugin test ./stars.so [--param prefix=x] [--vectors known-answers.jsonl]
 * docs/plugins.md is the guide in prose: building, the conformance suite, shipping.
 */
#ifndef SLUICE_MASK_PLUGIN_H
#define SLUICE_MASK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================== versions */

#define SLUICE_MASK_ABI_MAJOR 1
#define SLUICE_MASK_ABI_MINOR 0

/* 'S' 'L' 'M' 'P' as a number. */
#define SLUICE_MASK_MAGIC 0x534C4D50u

/* The exported symbol's name. A later incompatible ABI exports sluice_mask_plugin_v2 instead,
 * so a host can tell "built for ABI 1" from "not a sluice plugin". */
#define SLUICE_MASK_PLUGIN_SYMBOL "sluice_mask_plugin_v1"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SLUICE_MASK_ENDIAN_ 1u
#elif defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SLUICE_MASK_ENDIAN_ 2u
#else
#define SLUICE_MASK_ENDIAN_ 0u /* unknown: the host refuses it */
#endif

/* Byte 3: 'S' (format of this word); byte 2: sizeof(void *); byte 1: sizeof(size_t);
 * byte 0: byte order (1 little, 2 big). */
#define SLUICE_MASK_BUILD_SIGNATURE                                                                                    \
    ((uint32_t)0x53u << 24 | (uint32_t)sizeof(void *) << 16 | (uint32_t)sizeof(size_t) << 8 | SLUICE_MASK_ENDIAN_)

/* ============================================================================== status */

/* Status numbers never change. 0 and positive values are outcomes; negative values are errors,
 * and every error fails closed (field removed or event rejected, never forwarded raw). */
enum {
    SLUICE_MASK_OK = 0,         /* mask: the value is replaced by the output (possibly empty) */
    SLUICE_MASK_UNCHANGED = 1,  /* mask: keep the value as it is (already safe, or not for this plugin) */
    SLUICE_MASK_REMOVE = 2,     /* mask: remove the field from the event */
    SLUICE_MASK_EINVAL = -1,    /* the value (or an argument) cannot be handled */
    SLUICE_MASK_ENOMEM = -2,    /* out of memory */
    SLUICE_MASK_EINTERNAL = -3, /* a bug or a library failure (e.g. the crypto library) */
    SLUICE_MASK_ECONFIG = -4,   /* a configuration problem (create, config getters) */
    SLUICE_MASK_ETOOBIG = -5,   /* host->append: the output would exceed the host's cap */
};

/* A short fixed text for a status, for messages. Static storage. */
static inline const char *sluice_mask_strerror(int status)
{
    switch (status) {
    case SLUICE_MASK_OK: return "ok";
    case SLUICE_MASK_UNCHANGED: return "unchanged";
    case SLUICE_MASK_REMOVE: return "remove";
    case SLUICE_MASK_EINVAL: return "invalid value";
    case SLUICE_MASK_ENOMEM: return "out of memory";
    case SLUICE_MASK_EINTERNAL: return "internal error";
    case SLUICE_MASK_ECONFIG: return "configuration error";
    case SLUICE_MASK_ETOOBIG: return "output too large";
    default: return "unknown status";
    }
}

/* ============================================================================== input */

/* JSON type of the value a rule reached. Numbers never change. */
enum {
    SLUICE_MASK_JSON_STRING = 1, /* value = the string's contents (UTF-8, unescaped) */
    SLUICE_MASK_JSON_NUMBER = 2, /* value = its JSON text, e.g. "42" or "3.5" */
    SLUICE_MASK_JSON_BOOL = 3,   /* value = "true" or "false" */
    SLUICE_MASK_JSON_NULL = 4,   /* value = "null" */
    SLUICE_MASK_JSON_OBJECT = 5, /* value = compact JSON text of the object */
    SLUICE_MASK_JSON_ARRAY = 6,  /* value = compact JSON text of the array */
};

/* One value to mask. Read-only; valid only during the mask call. Every string is also
 * NUL-terminated, but a JSON string may contain U+0000, so use the lengths. */
typedef struct sluice_mask_input {
    uint32_t size;    /* sizeof the host's struct; test before reading later members */
    uint32_t type;    /* SLUICE_MASK_JSON_* */
    const char *path; /* concrete JSON path, e.g. "properties.items[2].card" */
    size_t path_len;
    const char *rule_path; /* the rule's configured path, e.g. "properties.items[*].card" */
    size_t rule_path_len;
    const char *value; /* see the JSON type above */
    size_t value_len;
    const char *org; /* the org id */
    size_t org_len;
    const char *event; /* track: the event name; other types: the type ("page", ...) */
    size_t event_len;
} sluice_mask_input_t;

/* 1 when the struct p points to (of type T, whose first member is `uint32_t size`) has member m,
 * e.g. SLUICE_MASK_HAS(host, sluice_mask_host_t, seal). */
#define SLUICE_MASK_HAS(p, T, m) ((p)->size >= offsetof(T, m) + sizeof(((const T *)0)->m))

/* ============================================================================== host */

/* Opaque host objects. */
typedef struct sluice_mask_output sluice_mask_output_t; /* the value being written by mask */
typedef struct sluice_mask_config sluice_mask_config_t; /* the rule's parameters, during create */
typedef struct sluice_mask_handle sluice_mask_handle_t; /* the host's record of one instance, from
                                                           create until destroy returns */

/* Log levels for host->log. */
enum {
    SLUICE_MASK_LOG_DEBUG = 0,
    SLUICE_MASK_LOG_INFO = 1,
    SLUICE_MASK_LOG_WARN = 2,
    SLUICE_MASK_LOG_ERROR = 3,
};

/* What the appended bytes are (host->set_output_type). */
enum {
    SLUICE_MASK_OUT_STRING = 0, /* default: the bytes are the contents of a JSON string */
    SLUICE_MASK_OUT_JSON = 1,   /* the bytes are one JSON value's text ("null", "42", "{...}") */
};

/* Bytes host->seal adds to its plaintext: key id (1) + nonce (12) + tag (16). */
#define SLUICE_MASK_SEAL_OVERHEAD 29u

/* The host's services. A sized table: a member exists only when
 * SLUICE_MASK_HAS(host, sluice_mask_host_t, member).
 * All of ABI 1.0's members are always present. Every function may be called from any thread
 * unless it says otherwise; none blocks. */
typedef struct sluice_mask_host {
    uint32_t size;      /* sizeof the host's table */
    uint16_t abi_major; /* the host's ABI version */
    uint16_t abi_minor;

    /* A log line (JSON lines on the host's stderr), tagged with the plugin's name and the
     * rule path. msg is plain text: NEVER a value, a key or a secret (the host replaces the
     * personal data its scanner finds in msg, but cannot recognise everything). */
    void (*log)(const sluice_mask_handle_t *self, int level, const char *msg);

    /* Appends len bytes to the output of the current mask call. Returns SLUICE_MASK_OK, or
     * SLUICE_MASK_ETOOBIG when the output would exceed the cap (return it from mask), or
     * SLUICE_MASK_ENOMEM. */
    int (*append)(sluice_mask_output_t *out, const void *bytes, size_t len);
    /* Says what the output is (SLUICE_MASK_OUT_STRING by default). Returns OK or EINVAL. */
    int (*set_output_type)(sluice_mask_output_t *out, int type);

    /* 1 when the len bytes at a and b are equal, in time independent of their contents. */
    int (*ct_equal)(const void *a, const void *b, size_t len);
    /* Overwrites len bytes with zeros in a way the compiler keeps. */
    void (*secure_zero)(void *p, size_t len);

    /* Typed config getters; only during create, on the config handle given to create.
     * Each returns 1 and writes *out when the parameter has a value (given in the rule or by
     * the map's default), 0 when it has none (optional, no default), or SLUICE_MASK_ECONFIG
     * when name is not in the plugin's config map with that type. Strings (NUL-terminated,
     * *len bytes; len may be NULL) are valid until create returns. A SECRET parameter is read
     * by the host from the environment variable the rule names and wiped after create. */
    int (*config_string)(const sluice_mask_config_t *cfg, const char *name, const char **out, size_t *len);
    int (*config_int)(const sluice_mask_config_t *cfg, const char *name, int64_t *out);
    int (*config_bool)(const sluice_mask_config_t *cfg, const char *name, int *out);
    int (*config_double)(const sluice_mask_config_t *cfg, const char *name, double *out);
    /* STRING_LIST: *count items; then config_list_item for i < count. */
    int (*config_list_count)(const sluice_mask_config_t *cfg, const char *name, size_t *count);
    int (*config_list_item)(const sluice_mask_config_t *cfg, const char *name, size_t i, const char **out, size_t *len);
    /* 1 when the rule gave the parameter, 0 when it comes from the default or is absent. */
    int (*config_is_set)(const sluice_mask_config_t *cfg, const char *name);

    /* Wall-clock time in milliseconds since the Unix epoch. */
    int64_t (*now_ms)(void);
    /* Cryptographically secure random bytes. Returns OK or EINTERNAL (buf then zeroed). */
    int (*random_bytes)(void *buf, size_t len);

    /* Encrypts pt with AES-256-GCM under the host key ring's primary key, with a fresh random
     * nonce, binding aad (not stored: the opener must supply the same bytes). Writes
     * kid (1) ‖ nonce (12) ‖ ciphertext (pt_len) ‖ tag (16) = pt_len + SLUICE_MASK_SEAL_OVERHEAD
     * bytes into out (cap bytes) and that length into *out_len. The host never hands out key
     * bytes, and keeps plugin-sealed messages in their own domain: they can neither be opened as
     * nor forged into the host's other sealed messages (identity tokens, vault rows). Returns
     * OK, ECONFIG when the host has no key ring (a call with pt_len 0 from create is a cheap
     * probe), EINVAL when cap is too small, or EINTERNAL. Reversal is `sluicectl unmask`, for
     * operators holding the key ring. */
    int (*seal)(const sluice_mask_handle_t *self, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                uint8_t *out, size_t cap, size_t *out_len);
    /* The inverse of seal, for selftests: writes n - OVERHEAD bytes into out. Returns OK,
     * EINVAL when malformed, tampered, sealed under an unknown key or with other aad (out then
     * holds no plaintext), ECONFIG without a key ring, EINTERNAL. */
    int (*open)(const sluice_mask_handle_t *self, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                uint8_t *out, size_t cap, size_t *out_len);
} sluice_mask_host_t;

/* ============================================================================== config map */

/* Parameter types. Numbers never change. */
enum {
    SLUICE_MASK_CONF_STRING = 1,      /* any scalar, taken as text */
    SLUICE_MASK_CONF_INT = 2,         /* decimal integer (int64) */
    SLUICE_MASK_CONF_BOOL = 3,        /* true/false/yes/no/on/off */
    SLUICE_MASK_CONF_DOUBLE = 4,      /* a number */
    SLUICE_MASK_CONF_STRING_LIST = 5, /* a YAML sequence of scalars (a single scalar is a one-item list) */
};

/* Parameter flags. */
enum {
    SLUICE_MASK_CONF_REQUIRED = 1u << 0, /* the rule must give it (a default is then pointless) */
    /* A secret (a key, a salt): the rule gives `<name>_env: VAR` and the host reads VAR from the
     * environment; `<name>: value` inline is a config error; an unset or empty VAR is a config
     * error naming VAR. Type must be STRING. Never logged; wiped after create. */
    SLUICE_MASK_CONF_SECRET = 1u << 1,
};

/* One declared parameter. A plugin's map is an array ended by {0} (name NULL). Names are
 * lower_snake_case, unique, and not ending in "_env". The layout is fixed for ABI major 1. */
typedef struct sluice_mask_config_entry {
    const char *name;
    uint32_t type;             /* SLUICE_MASK_CONF_* */
    uint32_t flags;            /* SLUICE_MASK_CONF_REQUIRED | SLUICE_MASK_CONF_SECRET */
    const char *default_value; /* YAML text as it would appear in the rule ("4", "true", "\"***\"",
                                  "[a, b]"), or NULL for no default; checked against the type at load */
    const char *description;   /* one line, shown by `sluicectl plugin test` and in errors */
} sluice_mask_config_entry_t;

/* ============================================================================== descriptor */

/* Descriptor flags. */
enum {
    /* The same input and config always give the same output (no randomness, no clock). The
     * conformance suite compares runs on several threads. */
    SLUICE_MASK_FLAG_DETERMINISTIC = 1u << 0,
    /* mask(mask(x)) == mask(x): masking an already masked value changes nothing more. */
    SLUICE_MASK_FLAG_IDEMPOTENT = 1u << 1,
};

typedef struct sluice_mask_plugin {
    /* ---- fixed prefix: the same in every ABI version, forever ---- */
    uint32_t magic;           /* SLUICE_MASK_MAGIC */
    uint16_t abi_major;       /* SLUICE_MASK_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;       /* SLUICE_MASK_ABI_MINOR the plugin was built against */
    uint32_t descriptor_size; /* sizeof(sluice_mask_plugin_t) as the plugin saw it */
    uint32_t build_signature; /* SLUICE_MASK_BUILD_SIGNATURE */

    /* ---- ABI 1.0 ---- */
    const char *name;                         /* short id, [a-z0-9_-], used in logs and metrics */
    const char *version;                      /* the plugin's own version, e.g. "1.2.0" */
    const char *description;                  /* one line */
    const sluice_mask_config_entry_t *config; /* {0}-terminated; NULL = takes no parameters */
    uint32_t flags;                           /* SLUICE_MASK_FLAG_* */

    /* Required. One instance per rule, single-threaded, at config load. self identifies the
     * instance to host->log/seal/open (keep it in the instance; valid until destroy returns).
     * Returns SLUICE_MASK_OK with *instance set (it may be NULL if the plugin needs no state),
     * or a negative status with one sentence in err (err_len > 0, always NUL-terminate). On
     * failure the host never calls destroy: free what create allocated before returning. */
    int (*create)(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len);
    /* Required. Frees the instance (NULL allowed if create set it so). */
    void (*destroy)(void *instance);

    /* Optional pair. thread_init runs lazily on a worker thread at its first mask call for the
     * instance; a negative status fails that call (and it is retried at the next call).
     * thread_dispose may run on another thread, after the owner stopped using the context. */
    int (*thread_init)(void *instance, void **thread_ctx);
    void (*thread_dispose)(void *instance, void *thread_ctx);

    /* Required. The hot path (see THREADING). thread_ctx is NULL without thread_init. Writes
     * the replacement through host->append (and host->set_output_type) and returns
     * SLUICE_MASK_OK, or returns UNCHANGED / REMOVE without writing, or a negative status. */
    int (*mask)(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out);

    /* Optional. Known-answer checks right after create, single-threaded: test the primitives
     * mask is built on (cipher vectors, table lookups); there is no output object here, and the
     * conformance suite (`sluicectl plugin test`) exercises mask itself. Returns OK, or a
     * negative status with a sentence in err, which refuses the config. */
    int (*selftest)(void *instance, char *err, size_t err_len);
} sluice_mask_plugin_t;

/* ============================================================================== defining one */

#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_MASK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_MASK_PLUGIN_EXPORT
#endif

/* In C++, g++ -Wextra warns of every member a designated initialiser leaves out
 * (-Wmissing-field-initializers), and the optional callbacks are meant to be left out: a C++
 * plugin built with -Wall -Wextra -Werror failed in this header. Silenced around the descriptor
 * only; the redeclaration after it takes the caller's semicolon. */
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#define SLUICE_MASK_PLUGIN_BEGIN_                                                                                      \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define SLUICE_MASK_PLUGIN_END_                                                                                        \
    ;                                                                                                                  \
    _Pragma("GCC diagnostic pop") extern const sluice_mask_plugin_t sluice_mask_plugin_v1
#else
#define SLUICE_MASK_PLUGIN_BEGIN_
#define SLUICE_MASK_PLUGIN_END_
#endif

/* Defines the exported descriptor with its fixed prefix filled in; the arguments are designated
 * initialisers for the rest, e.g. SLUICE_MASK_PLUGIN(.name = "x", .create = c, ...), in the
 * order of sluice_mask_plugin_t (C++ requires it). Build with -fvisibility=hidden so this is the
 * only exported symbol. The visibility is on the declaration only: the definition inherits it,
 * and g++ warns that it ignores it on the definition (an error under -Werror in a C++ plugin). */
#define SLUICE_MASK_PLUGIN(...)                                                                                        \
    extern SLUICE_MASK_PLUGIN_EXPORT const sluice_mask_plugin_t sluice_mask_plugin_v1;                                 \
    SLUICE_MASK_PLUGIN_BEGIN_                                                                                          \
    const sluice_mask_plugin_t sluice_mask_plugin_v1 = {.magic = SLUICE_MASK_MAGIC,                                    \
                                                        .abi_major = SLUICE_MASK_ABI_MAJOR,                            \
                                                        .abi_minor = SLUICE_MASK_ABI_MINOR,                            \
                                                        .descriptor_size = (uint32_t)sizeof(sluice_mask_plugin_t),     \
                                                        .build_signature = SLUICE_MASK_BUILD_SIGNATURE,                \
                                                        __VA_ARGS__} SLUICE_MASK_PLUGIN_END_

#ifdef __cplusplus
}
#endif

#endif
