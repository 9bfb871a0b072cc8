/*
 * The masking-plugin loader: opens a plugin's .so and checks its descriptor before running any
 * of its code (sluice_plugin_lib_*), creates one instance per rule with validated parameters
 * (sluice_plugin_instance_*), and calls `mask` with the host's output buffer, per-thread
 * contexts, fail-closed checks and per-thread counters. include/sluice/mask_plugin.h is the
 * contract on the other side.
 *
 * This file defines the host's side of the opaque `sluice_mask_output_t` and
 * `sluice_mask_handle_t` of the public header.
 *
 * Threading: opening, creating and destroying run on one thread (config load, or the thread
 * that frees a retired runtime); sluice_plugin_instance_mask runs concurrently from any number
 * of threads, each with its own thread index and output.
 */
#ifndef SLUICE_PLUGINS_LOADER_H
#define SLUICE_PLUGINS_LOADER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "sluice/mask_plugin.h"

/* ------------------------------------------------------------------ libraries */

typedef struct sluice_plugin_lib sluice_plugin_lib_t;

/* dlopen()s path (RTLD_NOW | RTLD_LOCAL) and checks, in this order and before calling any
 * plugin code: the symbol sluice_mask_plugin_v1 exists and is a data object (a plugin exporting
 * only another version's symbol is "built for ABI N"), the object is large enough for the
 * prefix, the magic, the build signature, the ABI major, the ABI minor (newer than the host:
 * refused), the descriptor size (at least ABI 1.0's, at most the object's size), the required
 * fields and callbacks, and the config map. Returns a library owned by the caller (close with
 * sluice_plugin_lib_close), or NULL with the reason in err (nothing stays open). */
sluice_plugin_lib_t *sluice_plugin_lib_open(const char *path, sluice_err_t *err);

/* The host's copy of the descriptor: the plugin's first descriptor_size bytes, members beyond
 * them zero (absent). Owned by lib. */
const sluice_mask_plugin_t *sluice_plugin_lib_descriptor(const sluice_plugin_lib_t *lib);
const char *sluice_plugin_lib_path(const sluice_plugin_lib_t *lib);
/* The descriptor_size the plugin declared (the copy above may be larger, zero-filled). */
uint32_t sluice_plugin_lib_declared_size(const sluice_plugin_lib_t *lib);

/* dlclose()s and frees. Every instance created from lib must be destroyed first. NULL allowed. */
void sluice_plugin_lib_close(sluice_plugin_lib_t *lib);

/* ------------------------------------------------------------------ output */

/* Default cap of one masked value, in bytes. */
#define SLUICE_PLUGIN_OUTPUT_MAX 4096

/* The host-owned output of one mask call. Caller storage; one per thread. */
struct sluice_mask_output {
    char *buf; /* max + 1 bytes; NUL-terminated after a successful call */
    size_t len;
    size_t max;
    int type;     /* SLUICE_MASK_OUT_* */
    int overflow; /* an append went over max */
};

/* Allocates max + 1 bytes (max 0 = SLUICE_PLUGIN_OUTPUT_MAX). Returns 0, or -1 out of memory. */
int sluice_plugin_output_init(sluice_mask_output_t *out, size_t max);
void sluice_plugin_output_dispose(sluice_mask_output_t *out);

/* ------------------------------------------------------------------ instances */

typedef struct sluice_plugin_instance sluice_plugin_instance_t;

typedef struct sluice_plugin_instance_opts {
    const sluice_yaml_node_t *params; /* the rule's params map, or NULL */
    const sluice_yaml_pos_t *pos;     /* the rule's position: errors without a node point here */
    const char *label;                /* key path of the rule, "orgs[0].data_layer.mask[1]" */
    const char *org;                  /* org id and rule path: in logs and metric labels */
    const char *rule_path;
    const sluice_keyring_t *keys; /* for host->seal/open; NULL = no key ring. Must outlive the instance */
    unsigned nthreads;            /* thread indexes 0..nthreads-1 may call mask */
    int flags;                    /* SLUICE_PLUGIN_PARAMS_CHECK_ONLY (plugins/params.h) */
} sluice_plugin_instance_opts_t;

/* Validates the params against lib's config map, runs `create` and then `selftest`, reporting
 * every problem into diag as "file:line:col: <label>...: <reason>" (the plugin's own sentence
 * for create and selftest). On a selftest failure the instance is destroyed again. Returns 0
 * with *out set (destroy with sluice_plugin_instance_destroy), 1 when CHECK_ONLY skipped it for
 * an unset secret (a warning was added, *out NULL), or -1 (reported, *out NULL). lib must
 * outlive the instance. Secrets are wiped once create returns. */
int sluice_plugin_instance_create(sluice_plugin_lib_t *lib, const sluice_plugin_instance_opts_t *opts,
                                  sluice_plugin_instance_t **out, sluice_config_diag_t *diag);

/* Masks one value on thread `thread` (< nthreads; one caller per index at a time), creating
 * that thread's context first when the plugin has thread_init. out is reset first. Returns the
 * plugin's status after the host's own checks: a non-negative status the plugin returned, or a
 * negative one, with *reason (static text, never a value) saying why: the plugin's status, an
 * unknown status, output over the cap, output not valid UTF-8 (strings), thread_init failing.
 * Counts the call and any error in the instance's per-thread counters. */
int sluice_plugin_instance_mask(sluice_plugin_instance_t *inst, unsigned thread, const sluice_mask_input_t *in,
                                sluice_mask_output_t *out, const char **reason);

/* Counts one more error on thread's slot: for failures found after instance_mask returned
 * (e.g. the JSON glue refusing the output). Thread `thread` only. */
void sluice_plugin_instance_count_error(sluice_plugin_instance_t *inst, unsigned thread);

/* Disposes every thread context created (on this thread), calls destroy, frees. The caller
 * guarantees no thread is still in mask. NULL allowed. */
void sluice_plugin_instance_destroy(sluice_plugin_instance_t *inst);

/* 1 when the plugin called host->seal or host->open during create or selftest. That is how a
 * plugin that seals shows it needs the host's key ring (ENCRYPTION_KEY): the header's probe is
 * a seal of 0 bytes from create. `sluicectl config check` asks it to warn only when needed. */
int sluice_plugin_instance_uses_keys(const sluice_plugin_instance_t *inst);

const sluice_plugin_lib_t *sluice_plugin_instance_lib(const sluice_plugin_instance_t *inst);
const char *sluice_plugin_instance_name(const sluice_plugin_instance_t *inst); /* the descriptor's name */
const char *sluice_plugin_instance_org(const sluice_plugin_instance_t *inst);
const char *sluice_plugin_instance_rule(const sluice_plugin_instance_t *inst);

/* Sums of the per-thread counters (read with relaxed loads; any thread). */
uint64_t sluice_plugin_instance_calls(const sluice_plugin_instance_t *inst);
uint64_t sluice_plugin_instance_errors(const sluice_plugin_instance_t *inst);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
int sluice_plugin_utf8_valid(const char *s, size_t len);

/* ------------------------------------------------------------------ sealing */

/* The domain plugin-sealed messages live in: the AAD actually bound is this string, its NUL,
 * then the plugin's aad. `sluicectl unmask` opens with sluice_plugin_open and the same aad the
 * plugin gave. */
#define SLUICE_PLUGIN_SEAL_DOMAIN "sluice.mask.v1"

/* host->seal and host->open over a key ring (kr may be NULL: SLUICE_MASK_ECONFIG). Return a
 * SLUICE_MASK_* status (see sluice_mask_host_t); err (may be NULL) gets a message. */
int sluice_plugin_seal(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                       uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err);
int sluice_plugin_open(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                       uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err);

#endif
