// Segment's @segment/analytics-node 3 (pinned in package.json), pointed at sluice with its `host`
// option: POST <host>/v1/batch, JSON, Authorization: Basic <writeKey:>, the key also in the body,
// X-Retry-Count on retries (backoff from 0.5 s, maxRetries 10 by default). The checks: server.mjs.
import { Analytics } from '@segment/analytics-node';
import { GW, env } from '../lib.mjs';
import { serverCase } from '../server.mjs';
import { segmentAdapter } from './segment_node_v2.mjs';

export default () =>
    serverCase(segmentAdapter('@segment/analytics-node 3', (o) => new Analytics({ writeKey: env.keys.server, host: GW, ...o }), {}));
