// Segment's @segment/analytics-node 2 (pinned as segment-analytics-node-2), pointed at sluice with
// its `host` option: POST <host>/v1/batch, JSON, the write key in the body only (no Authorization
// header), retries 3 times by default with a backoff of at most 1 s. The checks: server.mjs.
import v2 from 'segment-analytics-node-2';
import { GW, env } from '../lib.mjs';
import { serverCase } from '../server.mjs';

/** The adapter for analytics-node 2 and 3: same API, flush() waits for what is queued. */
export function segmentAdapter(name, create, retryOpts) {
    return {
        name,
        library: '@segment/analytics-node',
        retryOpts,
        make: (o) => Object.assign(create(o), { pending: [] }),
        send(c, type, msg) {
            c.pending.push(new Promise((resolve) => c[type](msg, (err) => resolve(err))));
        },
        async flush(c) {
            await c.flush();
            const errs = (await Promise.all(c.pending)).filter(Boolean);
            c.pending = [];
            return errs;
        },
    };
}

// maxRetries 10: the default 3 with at most 1 s between tries gives up after about 2 s, less
// than the outage here lasts (the test waits to see the 503 before bringing Kafka back).
export default () =>
    serverCase(
        segmentAdapter('@segment/analytics-node 2', (o) => new v2.Analytics({ writeKey: env.keys.server, host: GW, ...o }), {
            maxRetries: 10,
        })
    );
