// RudderStack's @rudderstack/rudder-sdk-node 3, pointed at sluice with its `dataPlaneUrl` option,
// gzip on (its default): POST <dataPlaneUrl>/v1/batch, a gzip JSON body labelled
// application/x-www-form-urlencoded (axios's label for a Buffer), Content-Encoding: gzip,
// Authorization: Basic <writeKey:>; identify's traits copied into context.traits; retries through
// axios-retry 4.5 (3 by default, honouring Retry-After). The checks: server.mjs.
import Analytics from '@rudderstack/rudder-sdk-node';
import { GW, env } from '../lib.mjs';
import { serverCase } from '../server.mjs';

export default () =>
    serverCase({
        name: '@rudderstack/rudder-sdk-node 3',
        library: 'analytics-node', // what this SDK stamps into context.library.name
        traitsInContext: true,
        retryOpts: {},
        make: (o) => Object.assign(new Analytics(env.keys.server, { dataPlaneUrl: GW, logLevel: 'error', ...o }), { pending: [] }),
        send(c, type, msg) {
            c.pending.push(new Promise((resolve) => c[type](msg, (err) => resolve(err))));
        },
        async flush(c) {
            await c.flush().catch(() => {});
            const errs = (await Promise.all(c.pending)).filter(Boolean);
            c.pending = [];
            return errs;
        },
    });
