// Leaving a page hands the queue to navigator.sendBeacon: events tracked just before a
// navigation arrive, once, although the flush timer never fired. (Chromium does not report
// beacons to playwright, so the page records its sendBeacon calls in sessionStorage, which
// outlives the navigation within the tab.) A page whose sendBeacon throws (a wrapper that lost
// its `this`): the queue is still left to the next page, which sends it at once.
import { GW, SHOP, assert, delivered, env, kafka, page, servePage, sleep, storedKeys, storedQueue, tagScript } from '../lib.mjs';

export default async function (t) {
    servePage(
        SHOP,
        '/cart',
        page({
            title: 'Cart',
            head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 60000 }),
            body: '<a id="pay" href="/thanks">pay</a>',
        })
    );
    servePage(SHOP, '/thanks', page({ title: 'Thanks' }));

    const c = await t.context();
    await c.addInitScript(() => {
        const send = navigator.sendBeacon.bind(navigator);
        navigator.sendBeacon = (url, data) => {
            const ok = send(url, data);
            const seen = JSON.parse(sessionStorage.getItem('beacons') || '[]');
            seen.push({ url, data: String(data), ok });
            sessionStorage.setItem('beacons', JSON.stringify(seen));
            return ok;
        };
    });
    const p = await t.open(`${SHOP}/cart`, c);
    await p.evaluate(() => sluice.track('Checkout Started', { value: 99 }));
    const queued = await storedQueue(p);
    assert.deepEqual(queued.map((e) => e.type), ['page', 'track'], 'both wait for the flush timer');
    assert.equal(t.batches().length, 0, 'nothing sent before leaving');

    await p.click('#pay');
    await p.waitForURL(`${SHOP}/thanks`);
    const ids = queued.map((e) => e.messageId);
    const got = await delivered(ids);

    assert.equal(t.batches().length, 0, 'no fetch carried them');
    const beacons = await p.evaluate(() => JSON.parse(sessionStorage.getItem('beacons') || '[]'));
    assert.equal(beacons.length, 1, 'one beacon carried them');
    assert.equal(beacons[0].url, `${GW}/v1/batch`);
    assert.equal(beacons[0].ok, true);
    const body = JSON.parse(beacons[0].data); // a string: sent as text/plain
    assert.equal(body.writeKey, env.keys.web, 'the write key travels in the body');
    assert.deepEqual(body.batch.map((e) => e.messageId), ids);
    assert.equal(got.find((m) => m.event.type === 'track').event.properties.value, 99);

    // The beacon's events left the queue: nothing is orphaned for the next page to send again.
    assert.deepEqual(await storedKeys(p), ['sluice:aid']);
    await sleep(1500);
    const all = await kafka();
    for (const id of ids) assert.equal(all.filter((m) => m.event.messageId === id).length, 1, `${id} arrived once`);

    // A full queue drops its oldest events, counted; the beacon carries what is left.
    servePage(
        SHOP,
        '/full',
        page({
            title: 'Full',
            head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 60000, 'batch-size': 100, 'max-queue': 3 }),
            body: '<a id="away" href="/thanks">away</a>',
        })
    );
    const pf = await t.open(`${SHOP}/full`, c);
    const kept = await pf.evaluate(() => {
        for (let i = 1; i <= 5; i++) sluice.track(`Step ${i}`);
        return sluice.stats();
    });
    assert.equal(kept.queued, 3);
    assert.equal(kept.overflow, 3, 'the page view and steps 1 and 2 were dropped');
    const left = await storedQueue(pf);
    assert.deepEqual(left.map((e) => e.event), ['Step 3', 'Step 4', 'Step 5']);
    await pf.click('#away');
    await pf.waitForURL(`${SHOP}/thanks`);
    await delivered(left.map((e) => e.messageId));
    await sleep(1000);
    const steps = (await kafka()).filter((m) => /^Step \d$/.test(m.event.event || '')).map((m) => m.event.event);
    assert.deepEqual(steps.sort(), ['Step 3', 'Step 4', 'Step 5']);

    // sendBeacon replaced by a wrapper that calls it unbound: "Illegal invocation".
    servePage(SHOP, '/next', page({ title: 'Next', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 }) }));
    const cb = await t.context();
    await cb.addInitScript(() => {
        const send = navigator.sendBeacon;
        navigator.sendBeacon = (url, data) => send(url, data);
    });
    const pt = await t.open(`${SHOP}/cart`, cb);
    await pt.evaluate(() => sluice.track('Unbound Beacon'));
    const mine = (await storedQueue(pt)).map((e) => e.messageId);
    await pt.evaluate(() => (location.href = '/next'));
    await pt.waitForURL(`${SHOP}/next`);
    await delivered(mine, 10000); // not after the 5 minutes of a queue whose tab seems alive
}
