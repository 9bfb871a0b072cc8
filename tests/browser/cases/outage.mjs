// The gateway goes away: events wait in localStorage, the page keeps retrying, and once the
// gateway is back they arrive exactly as they were queued (same messageIds, same fields), once
// each, whether the same page retries or a later page of the site adopts the queue of a page
// that was closed during the outage.
import { SHOP, assert, ctl, delivered, env, kafka, page, servePage, sleep, storedQueue, tagScript, waitFor } from '../lib.mjs';

// What the tag queued must be what Kafka holds; the gateway only adds its own fields, and corrects
// timestamp for the visitor's clock (the queued one kept as originalTimestamp; the clocks here
// agree, so the correction is a matter of milliseconds however long the event waited).
function sameEvent(sent, got) {
    const { context, timestamp, ...rest } = sent;
    const { context: gctx, receivedAt, sentAt, timestamp: gts, originalTimestamp, ...grest } = got;
    assert.ok(receivedAt && sentAt);
    assert.equal(originalTimestamp, timestamp, 'the queued timestamp, kept');
    assert.ok(Math.abs(Date.parse(gts) - Date.parse(timestamp)) < 2000, `timestamp ${gts} corrected from ${timestamp}`);
    assert.deepEqual(grest, rest);
    const { ip, userAgent, vendorIds, ...gc } = gctx; // vendorIds: the gateway's _fbp (identity.vendor_cookies)
    assert.ok(ip && userAgent && vendorIds);
    assert.deepEqual(gc, context);
}

async function exactlyOnce(ids) {
    await sleep(1000); // a late duplicate would show up by now
    const all = await kafka();
    for (const id of ids) assert.equal(all.filter((m) => m.event.messageId === id).length, 1, `${id} arrived once`);
}

export default async function (t) {
    t.allowConsole(/Failed to load resource: net::ERR_CONNECTION_REFUSED/);
    const attrs = { 'write-key': env.keys.web, 'flush-interval': 100, 'retry-base': 300, 'retry-max': 1500 };
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript(attrs) }));

    const c = await t.context();
    const p = await t.open(`${SHOP}/`, c);
    await waitFor('the page view sent', () => p.evaluate(() => sluice.stats().sent === 1));

    // 1. The same page retries.
    await ctl('gateway_stop');
    await p.evaluate(() => sluice.track('Added To Cart', { sku: 'w-1' }));
    await waitFor('a refused attempt', () => p.evaluate(() => sluice.stats().retries >= 1));
    const first = await storedQueue(p);
    assert.deepEqual(first.map((e) => e.event), ['Added To Cart'], 'the event waits in localStorage');
    await ctl('gateway_start');
    const got1 = await delivered(first.map((e) => e.messageId));
    sameEvent(first[0], got1[0].event);
    await waitFor('an empty queue', async () => (await storedQueue(p)).length === 0);

    // 2. The page is closed during the outage; the next page of the site sends its events.
    // (Leaving before the tag saw the outage would hand the events to a beacon, whose loss
    // nobody can see: the tag only keeps them for the next page once a request failed.)
    await ctl('gateway_stop');
    const retries = await p.evaluate(() => {
        sluice.track('Viewed Product', { sku: 'w-2' });
        sluice.identify('user-42', { plan: 'free' });
        sluice.track('Added To Cart', { sku: 'w-2', qty: 3 });
        return sluice.stats().retries;
    });
    await waitFor('a refused attempt', () => p.evaluate((n) => sluice.stats().retries > n, retries));
    const queued = await storedQueue(p);
    assert.deepEqual(queued.map((e) => e.type), ['track', 'identify', 'track']);
    // pagehide during the outage: no beacon, the queue is left for others. close() with
    // runBeforeUnload returns before the page is gone: a gateway back before then can take the
    // closing page's retry while the next page adopts the same queue (a duplicate, as a real
    // visitor racing the recovery could make; not the case this test is about).
    const closed = new Promise((resolve) => p.once('close', resolve));
    await p.close({ runBeforeUnload: true });
    await closed;
    await ctl('gateway_start');

    const p2 = await t.open(`${SHOP}/`, c); // the tag comes from the browser cache or the gateway, either way
    const got2 = await delivered(queued.map((e) => e.messageId));
    for (const e of queued) sameEvent(e, got2.find((m) => m.event.messageId === e.messageId).event);
    await waitFor('an empty queue', async () => (await storedQueue(p2)).length === 0);
    await exactlyOnce([...first, ...queued].map((e) => e.messageId));
}
