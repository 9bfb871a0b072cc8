// Values exactly as the SDK sent them (issue 17): prices from Segment's analytics-node 3 and
// RudderStack's node SDK (gzip) arrive in Kafka with the same digits ("price":19.9, never
// 19.899999999999999): the parser keeps each number's text (json/numbers.h) for the envelope.
// And a title cut in the middle of an emoji (JSON.stringify writes the lone half as "\ud83c")
// arrives as U+FFFD with the event batched after it; it was a 400 for the SDK's whole batch.
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { GW, arrivedOnce, assert, env, run } from '../lib.mjs';

const props = { revenue: 19.9, price: 0.1, tax: 1.005, quantity: 3, discount: -0.3 };
const digits = ['"revenue":19.9', '"price":0.1', '"tax":1.005', '"quantity":3', '"discount":-0.3'];
const cut = 'Sale \u{1F389}'.slice(0, 6); // "Sale " and the high half of the emoji

export default async function () {
    const seg = new SegmentAnalytics({ writeKey: env.keys.server, host: GW });
    seg.track({ anonymousId: `seg-${run}`, event: 'Order Completed', properties: props });
    seg.track({ anonymousId: `seg-${run}`, event: 'Title Cut', properties: { title: cut } });
    seg.track({ anonymousId: `seg-${run}`, event: 'After Cut' });
    await seg.closeAndFlush();
    const rs = new RudderAnalytics(env.keys.server, { dataPlaneUrl: GW, logLevel: 'error' });
    rs.track({ anonymousId: `rs-${run}`, event: 'Order Completed', properties: props });
    rs.track({ anonymousId: `rs-${run}`, event: 'Title Cut', properties: { title: cut } });
    rs.track({ anonymousId: `rs-${run}`, event: 'After Cut' });
    await rs.flush();
    const got = await arrivedOnce([
        { type: 'track', event: 'Order Completed', match: (e) => e.event === 'Order Completed' && e.anonymousId === `seg-${run}` },
        { type: 'track', event: 'Order Completed', match: (e) => e.event === 'Order Completed' && e.anonymousId === `rs-${run}` },
    ]);
    for (const m of got) for (const d of digits) assert.ok(m.raw.includes(d), `${d} in ${m.raw}`);
    const titles = await arrivedOnce([
        { type: 'track', event: 'Title Cut', match: (e) => e.event === 'Title Cut' && e.anonymousId === `seg-${run}` },
        { type: 'track', event: 'Title Cut', match: (e) => e.event === 'Title Cut' && e.anonymousId === `rs-${run}` },
        { type: 'track', event: 'After Cut', match: (e) => e.event === 'After Cut' && e.anonymousId === `seg-${run}` },
        { type: 'track', event: 'After Cut', match: (e) => e.event === 'After Cut' && e.anonymousId === `rs-${run}` },
    ]);
    for (const m of titles.slice(0, 2)) assert.equal(m.event.properties.title, 'Sale \uFFFD');
}
