// Ad click ids through Segment's analytics.js, unchanged: a visitor lands on the shop from ads
// (?fbclid, ?ttclid, ?gclid), reads two more pages and buys on a third. analytics.js sends each
// event with the URL of the page it is on, so only the landing page's carries the click ids; the
// purchase must reach Kafka with all three in context.clickIds (what TikTok's ttclid, Google Ads'
// gclid are mapped from) and Meta's as context.vendorIds.fbc "fb.1.<ms of the click>.<fbclid>":
// the landing's time, not the purchase's (docs/identity.md, "Vendor ids and click ids").
import { PAGES, assert, env, eventsWhere, run } from '../lib.mjs';
import { segmentPage } from '../segment_browser.mjs';

const ready = (p) => p.waitForFunction(() => window.analytics && window.AnalyticsNext);

export default async function (t) {
    const b = await t.browser();
    for (const path of ['/', '/shoes', '/cart', '/checkout']) await segmentPage({ key: env.keys.web, path });
    const fbclid = `IwAR-${run}`, ttclid = `E.C.P.${run}`, gclid = `Cj0KCQ-${run}`;
    const before = Date.now();
    const p = await b.open(`/?fbclid=${fbclid}&ttclid=${ttclid}&gclid=${gclid}`);
    await ready(p);
    const landing = await p.evaluate(async () => (await window.analytics.page()).event.messageId);
    const [land] = await eventsWhere('the landing page view', (e) => e.messageId === landing);
    const after = Date.now();
    assert.deepEqual(land.event.context.clickIds, { fbclid, ttclid, gclid });
    const aid = land.event.anonymousId;

    for (const path of ['/shoes', '/cart', '/checkout']) {
        await p.goto(PAGES + path);
        await ready(p);
        if (path !== '/checkout') await p.evaluate(async () => void (await window.analytics.page()));
    }
    const order = await p.evaluate(async () => (await window.analytics.track('Order Completed', { order_id: 'o-1', revenue: 59.9, currency: 'EUR' })).event.messageId);
    const [m] = await eventsWhere('the purchase', (e) => e.messageId === order);
    assert.equal(m.event.anonymousId, aid, 'one visitor');
    assert.equal(m.event.context.page.url, `${PAGES}/checkout`, 'analytics.js sent the checkout URL, without click ids');
    assert.deepEqual(m.event.context.clickIds, { fbclid, ttclid, gclid }, 'the click ids of the landing page');
    const fbc = /^fb\.1\.(\d+)\.(.+)$/.exec((m.event.context.vendorIds || {}).fbc || '');
    assert.ok(fbc, `fbc on the purchase: ${JSON.stringify(m.event.context.vendorIds)}`);
    assert.equal(fbc[2], fbclid);
    assert.ok(+fbc[1] >= before && +fbc[1] <= after, `fbc has the click's time (${fbc[1]} in [${before}, ${after}]), not the purchase's`);
}
