// Numbers exactly as the SDK sent them (issue 17): prices from Segment's analytics-node 3 and
// RudderStack's node SDK (gzip) arrive in Kafka with the same digits ("price":19.9, never
// 19.899999999999999): the parser keeps each number's text (json/numbers.h) for the envelope.
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { GW, arrivedOnce, assert, env, run } from '../lib.mjs';

const props = { revenue: 19.9, price: 0.1, tax: 1.005, quantity: 3, discount: -0.3 };
const digits = ['"revenue":19.9', '"price":0.1', '"tax":1.005', '"quantity":3', '"discount":-0.3'];

export default async function () {
    const seg = new SegmentAnalytics({ writeKey: env.keys.server, host: GW });
    seg.track({ anonymousId: `seg-${run}`, event: 'Order Completed', properties: props });
    await seg.closeAndFlush();
    const rs = new RudderAnalytics(env.keys.server, { dataPlaneUrl: GW, logLevel: 'error' });
    rs.track({ anonymousId: `rs-${run}`, event: 'Order Completed', properties: props });
    await rs.flush();
    const got = await arrivedOnce([
        { type: 'track', event: 'Order Completed', match: (e) => e.anonymousId === `seg-${run}` },
        { type: 'track', event: 'Order Completed', match: (e) => e.anonymousId === `rs-${run}` },
    ]);
    for (const m of got) for (const d of digits) assert.ok(m.raw.includes(d), `${d} in ${m.raw}`);
}
