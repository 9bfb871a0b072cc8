/*
 * libFuzzer target for what the gateway does with an untrusted request body before the data
 * layer: gzip decoding with the size cap (gateway/gzip.c), parsing with limits
 * (gateway/event.c, gateway/json.c), validation of a single event and of every event of a
 * batch, enrichment, and the compact size computation. The first input byte picks gzip or
 * not. Nothing may crash, leak or overflow; the encoder must agree with its size estimate.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/envelope.h"
#include "json/write.h"
#include "gateway/event.h"
#include "gateway/gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 4096,
    .max_batch_events = 50,
    .max_depth = 16,
    .max_string_bytes = 1024,
    .max_wire_bytes = 65536,
};

/* The body's numbers' texts, reused from input to input as a gateway worker would. */
static sluice_jsonnum_t *nums;

static void check_event(json_t *ev, int type, const char *prefix)
{
    sluice_event_error_t e;
    int t = sluice_event_validate(ev, type, &limits, prefix, 0, nums, &e);
    if (t < 0) {
        if (e.code == NULL || e.message[0] == '\0')
            abort(); /* every refusal says why */
        return;
    }
    sluice_event_enrich_t en = {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = "fuzz"};
    if (sluice_event_enrich(ev, &en) != 0)
        abort();
    size_t len;
    char *text = sluice_json_encode(ev, nums, &len);
    if (text == NULL || len > sluice_event_encoded_size(ev, nums))
        abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *inflated = NULL;
    if (data[0] & 1) {
        size_t out_len;
        int rc = sluice_gunzip(body, len, limits.max_body_bytes, &inflated, &out_len);
        if (rc != 0)
            return 0;
        if (out_len > limits.max_body_bytes)
            abort();
        body = inflated;
        len = out_len;
    }
    sluice_event_error_t e;
    if (nums == NULL && (nums = sluice_jsonnum_new()) == NULL)
        abort();
    sluice_jsonnum_clear(nums);
    sluice_json_item_faults_t faults;
    json_t *root = sluice_event_parse(body, len, &limits, nums, &faults, &e);
    if (root != NULL) {
        json_t *batch = json_object_get(root, "batch");
        /* Faults name events of the batch, each once, in order, with their path. */
        for (size_t i = 0; i < faults.count; i++) {
            char want[32];
            snprintf(want, sizeof(want), "batch[%zu]", faults.item[i].index);
            if (!json_is_array(batch) || faults.item[i].index >= json_array_size(batch) ||
                (i > 0 && faults.item[i].index <= faults.item[i - 1].index) ||
                strncmp(faults.item[i].path, want, strlen(want)) != 0 || faults.item[i].message[0] == '\0')
                abort();
        }
        if (json_is_array(batch)) {
            size_t i;
            json_t *ev;
            json_array_foreach(batch, i, ev)
                check_event(ev, -1, "batch[0]");
        } else {
            check_event(root, (data[0] >> 1) % (SLUICE_EVENT_TYPE_COUNT + 1) - 1, "");
        }
        json_decref(root);
    }
    free(inflated);
    return 0;
}
