/*
 * Gateway side of masking plugins: for each value a mask rule reaches, find the rule's plugin
 * instance in the runtime's set, run it on this thread's slot, and put the result into the
 * event. Fail closed: any failure returns SLUICE_MASK_FAILED, so the data layer removes the
 * field or rejects the event (the rule's on_error), and a warning names plugin, org and path,
 * never the value. Runs on the event-loop thread whose index the masker carries.
 */
#include "gateway/masker.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

typedef struct thread_masker {
    sluice_masker_t base;
    sluice_plugin_set_t *set;
    const sluice_config_t *cfg;
    unsigned thread;
} thread_masker_t;

struct sluice_gw_maskers {
    thread_masker_t *threads;
    unsigned nthreads;
};

static sluice_mask_outcome_t on_mask(void *ud, const sluice_org_t *org, size_t rule_index, json_t *event,
                                     const char *event_name, json_t *parent, const char *key, size_t index,
                                     json_t *value, const char *concrete_path, sluice_jsonnum_t *nums)
{
    (void)event;
    thread_masker_t *m = ud;
    /* The data layer hands the org by pointer into this runtime's config. */
    if (org < m->cfg->orgs || org >= m->cfg->orgs + m->cfg->org_count || rule_index >= org->mask_rule_count)
        return SLUICE_MASK_FAILED;
    size_t org_index = (size_t)(org - m->cfg->orgs);
    const sluice_mask_rule_t *rule = &org->mask_rules[rule_index];
    sluice_plugin_field_t field = {
        .org = org->id, .path = concrete_path, .rule_path = rule->path.text, .event = event_name, .nums = nums};
    json_t *nv = NULL;
    const char *reason = "unknown";
    sluice_plugin_outcome_t out =
        sluice_plugin_set_apply_in_place(m->set, m->thread, org_index, rule_index, &field, value, &nv, &reason);
    switch (out) {
    case SLUICE_PLUGIN_REPLACED: {
        if (nv == value) { /* rewritten where it is */
            json_decref(nv);
            return SLUICE_MASK_REPLACED;
        }
        /* key is one the parent already holds (the value was reached through it): valid UTF-8. */
        int rc = key != NULL ? json_object_set_new_nocheck(parent, key, nv) : json_array_set_new(parent, index, nv);
        if (rc == 0)
            return SLUICE_MASK_REPLACED;
        reason = "out of memory";
        break;
    }
    case SLUICE_PLUGIN_UNCHANGED: return SLUICE_MASK_UNCHANGED;
    case SLUICE_PLUGIN_REMOVE: return SLUICE_MASK_REMOVED;
    case SLUICE_PLUGIN_FAILED: break;
    }
    const char *name = sluice_plugin_set_plugin_name(m->set, org_index, rule_index);
    sluice_log_warn("mask.failed", "plugin %s failed on org %s path %s (rule %s): %s; the field is %s",
                    name ? name : rule->plugin, org->id, concrete_path, rule->path.text, reason,
                    rule->on_error == SLUICE_MASK_ON_ERROR_REJECT ? "removed and the event rejected" : "removed");
    return SLUICE_MASK_FAILED;
}

sluice_gw_maskers_t *sluice_gw_maskers_create(sluice_plugin_set_t *set, const sluice_config_t *cfg, unsigned nthreads)
{
    sluice_gw_maskers_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->threads = calloc(nthreads ? nthreads : 1, sizeof(*m->threads));
    if (m->threads == NULL) {
        free(m);
        return NULL;
    }
    m->nthreads = nthreads;
    for (unsigned t = 0; t < nthreads; t++) {
        thread_masker_t *tm = &m->threads[t];
        *tm = (thread_masker_t){.base = {.mask = on_mask, .ud = tm}, .set = set, .cfg = cfg, .thread = t};
    }
    return m;
}

const sluice_masker_t *sluice_gw_maskers_get(const sluice_gw_maskers_t *m, unsigned thread)
{
    if (m == NULL || thread >= m->nthreads)
        return NULL;
    return &m->threads[thread].base;
}

void sluice_gw_maskers_free(sluice_gw_maskers_t *m)
{
    if (m == NULL)
        return;
    free(m->threads);
    free(m);
}
