#!/usr/bin/env python3
"""bench/profile-shares.py FILE: the gateway's samples by part of the pipeline.

FILE is `perf script -F comm,tid,ip,sym,dso` of a `perf record --call-graph` of the gateway
(bench/profile-c makes one). Each sample of a loop thread goes to the innermost stage listed
below that is on its stack (leaf first), so the shares add up to 100 %; samples of other threads
(librdkafka's, the main thread) are counted apart. Prints a Markdown table."""
import collections
import re
import sys

STAGES = [
    ('parse (sluice_event_parse_jv, the body copy)',
     r'^(sluice_event_parse_jv|sluice_jv_parse|arena_text)$'),
    ('validation, consent, ids pass, enrichment, identity fields (accept_events)',
     r'^(sluice_event_validate_jv|sluice_consent_\w+_jv|sluice_piiguard_ids_jv|sluice_event_enrich_jv|'
     r'sluice_enrichment_event_jv|sluice_identity_assign_jv|sluice_batch_shared_\w+_jv|sluice_forgotten_match_jv|'
     r'accept_events)$'),
    ('data layer (hashing, masks through plugins)', r'^(sluice_datalayer_apply_jv)$'),
    ('PII guard walk', r'^(sluice_piiguard_apply_jv)$'),
    ('envelope', r'^(sluice_envelope_encode_jv)$'),
    ('producing to librdkafka (rd_kafka_producev)', r'^(sluice_producer_send|rd_kafka_producev)$'),
    ('delivery reports, answer, releasing a request (TLS write included)',
     r'^(on_dr|on_wake|settle|release_values|pending_free|sluice_reply_\w+)$'),
    ("produce_all's own work (Kafka key, kept messageId, type header, the invalid record)",
     r'^(produce_all|record_invalid)$'),
    ("identity's run over the events (step_done: click ids kept, links, cookies, lookups)",
     r'^(step_done|finish|finish_jv|start_lookups)$'),
    ("Redis I/O (hiredis), identity's job released",
     r'^(sluice_identity_run|sluice_identity_begin_jv|on_reply|redis\w+|sluice_identity_job_dispose)$'),
    ('TLS read and h2o HTTP/1 parsing',
     r'^(SSL_read|ssl_read\w*|on_read|h2o_http1\w*|phr_\w+|handle_incoming_request|sluice_ingest_post)$'),
]


def main(path):
    stages = [(label, re.compile(rx)) for label, rx in STAGES]
    counts = collections.Counter()
    total = 0

    def flush(comm, frames):
        nonlocal total
        if comm is None:
            return
        total += 1
        if not comm.startswith('sluice-loop'):
            kind = 'rdk' if comm.startswith('rdk') else 'other'
            counts["librdkafka's own threads and other threads (%s)" % kind] += 1
            return
        for sym in frames:
            for label, rx in stages:
                if rx.match(sym):
                    counts[label] += 1
                    return
        counts['the rest: h2o loop, kernel, scheduling, timers'] += 1

    comm, frames = None, []
    with open(path) as f:
        for line in f:
            if not line.strip():
                flush(comm, frames)
                comm, frames = None, []
            elif not line.startswith(('\t', ' ')):
                comm, frames = line.split()[0], []
            else:
                parts = line.split()
                if len(parts) >= 2:
                    frames.append(parts[1])
    flush(comm, frames)
    if total == 0:
        sys.exit('profile-shares: no samples in %s' % path)
    print('| part | share |\n|---|---|')
    for label, c in counts.most_common():
        print('| %s | %.1f %% |' % (label, 100.0 * c / total))
    print('total samples', total)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
