// Ad click ids with sluice.js: a visitor lands on the shop from ads (?fbclid, ?ttclid, ?gclid),
// reads two more pages and buys on a third, whose URL carries none. The purchase must reach Kafka
// with the three in context.clickIds (TikTok's ttclid and Google Ads' gclid are mapped from them)
// and Meta's Conversions API (the stub, through sluice-deliver) with fbc
// "fb.1.<ms of the click>.<fbclid>": the landing's time, not the purchase's.
import { SHOP, assert, ctl, env, eventsWhere, page, servePage, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    const head = tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 });
    for (const path of ['/shoes', '/shoes/red', '/cart', '/checkout/done']) servePage(SHOP, path, page({ title: path, head }));
    const run = Date.now().toString(36);
    const fbclid = `IwAR-${run}`, ttclid = `E.C.P.${run}`, gclid = `Cj0KCQ-${run}`;
    const before = Date.now();
    const p = await t.open(`${SHOP}/shoes?fbclid=${fbclid}&ttclid=${ttclid}&gclid=${gclid}`);
    const aid = await p.evaluate(() => sluice.anonymousId());
    const [land] = await eventsWhere('the landing page view', (e) => e.type === 'page' && e.anonymousId === aid);
    const after = Date.now();
    assert.deepEqual(land.event.context.clickIds, { fbclid, ttclid, gclid });

    for (const path of ['/shoes/red', '/cart', '/checkout/done']) {
        await p.goto(SHOP + path);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    }
    await p.evaluate(() => sluice.track('Order Completed', { order_id: 'o-click', revenue: 59.9, currency: 'EUR' }));
    const [m] = await eventsWhere('the purchase', (e) => e.event === 'Order Completed' && e.anonymousId === aid);
    assert.equal(m.event.context.page.url, `${SHOP}/checkout/done`, 'the tag sent the checkout URL, without click ids');
    assert.deepEqual(m.event.context.clickIds, { fbclid, ttclid, gclid }, 'the click ids of the landing page');

    let ev;
    await waitFor(
        'the purchase at the Meta stub',
        async () => {
            for (const r of await ctl('stub_requests'))
                for (const e of (r.json && r.json.data) || []) if (e.event_id === m.event.messageId) ev = e;
            return ev;
        },
        30000,
        500
    );
    const fbc = /^fb\.1\.(\d+)\.(.+)$/.exec(ev.user_data.fbc || '');
    assert.ok(fbc, `fbc at Meta: ${JSON.stringify(ev.user_data)}`);
    assert.equal(fbc[2], fbclid);
    assert.ok(+fbc[1] >= before && +fbc[1] <= after, `fbc has the click's time (${fbc[1]} in [${before}, ${after}]), not the purchase's`);
}
