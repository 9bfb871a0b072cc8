// Segment's older analytics-node 6, pointed at sluice with its `host` option: POST <host>/v1/batch,
// JSON, Authorization: Basic <writeKey:> (axios), retries through axios-retry 3.2 (200 ms, 400 ms,
// 800 ms: retryCount 3 by default, so the test asks for 8). The checks: server.mjs.
import Analytics from 'analytics-node';
import { GW, env } from '../lib.mjs';
import { serverCase } from '../server.mjs';

export default () =>
    serverCase({
        name: 'analytics-node 6',
        library: 'analytics-node',
        retryOpts: { retryCount: 8 },
        make: (o) => Object.assign(new Analytics(env.keys.server, { host: GW, ...o }), { pending: [] }),
        send(c, type, msg) {
            c.pending.push(new Promise((resolve) => c[type](msg, (err) => resolve(err))));
        },
        async flush(c) {
            await new Promise((resolve) => c.flush(() => resolve()));
            const errs = (await Promise.all(c.pending)).filter(Boolean);
            c.pending = [];
            return errs;
        },
    });
