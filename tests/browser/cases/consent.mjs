// requireConsent: before consent() grants a category nothing leaves the page and nothing is
// stored; granting sends what waited, with the granted categories (which the org requires:
// its gateway drops events without them); the choice is remembered across pages; refusing
// drops everything and forgets the ids, the queues other tabs left behind included, and applies
// at once in the visitor's other open tabs; withdrawing one category takes it from the events
// still queued and from what the visitor's other open tabs send from then on.
import { SHOP, assert, env, kafka, page, servePage, sleep, storedKeys, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    const attrs = { 'write-key': env.keys.consent, 'require-consent': 'true', 'flush-interval': 100 };
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript(attrs) }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/`, c);

    await p.evaluate(() => sluice.track('Before Consent', { n: 1 }));
    await sleep(1500); // ten flush intervals
    assert.equal(t.batches().length, 0, 'nothing sent before consent');
    assert.deepEqual(await storedKeys(p), [], 'nothing stored before consent');
    assert.deepEqual(await c.cookies(), [], 'no cookie before consent (consent_cookies.mjs: the gateway side)');
    assert.equal((await p.evaluate(() => sluice.stats())).held, 2, 'the page view and the track wait in memory');

    const aid = await p.evaluate(() => {
        sluice.consent({ categories: ['analytics'] });
        return sluice.anonymousId();
    });
    const [pv, before] = await waitFor('the held events', async () => {
        const m = (await kafka()).filter((x) => x.org === 'consentco' && x.event.anonymousId === aid);
        return m.length >= 2 && [m.find((x) => x.event.type === 'page'), m.find((x) => x.event.event === 'Before Consent')];
    });
    for (const m of [pv, before]) assert.deepEqual(m.event.context.consent, { categories: ['analytics'] });
    assert.deepEqual(before.event.properties, { n: 1 });
    assert.deepEqual(await storedKeys(p), ['sluice:aid', 'sluice:consent'], 'ids stored once consented');

    // The choice holds on the next page: its page view goes at once.
    const p2 = await t.open(`${SHOP}/`, c);
    const pv2 = await waitFor('the second page view', () => p2.evaluate(() => (sluice.stats().sent === 1 ? true : null)));
    assert.ok(pv2);
    assert.equal(await p2.evaluate(() => sluice.anonymousId()), aid, 'the same anonymous id');

    // Refusing: nothing more is sent or kept. Also not the queue a tab closed during an outage
    // left in localStorage for the next page (as the tag writes it: orphaned, t 0), nor what
    // another open tab of the visitor collects from then on.
    const p3 = await t.open(`${SHOP}/`, c);
    await waitFor('the other tab sent its page view', () => p3.evaluate(() => sluice.stats().sent === 1));
    const sentBefore = t.batches().length;
    await p2.evaluate((aid) => {
        const e = { type: 'track', event: 'Orphaned', properties: {}, messageId: crypto.randomUUID(), timestamp: new Date().toISOString(), anonymousId: aid };
        e.context = { page: { url: location.href, path: '/', referrer: '', title: 'Shop' }, library: { name: 'sluice.js', version: sluice.VERSION }, consent: { categories: ['analytics'] } };
        localStorage.setItem('sluice:q:' + crypto.randomUUID(), JSON.stringify({ t: 0, q: [e] }));
    }, aid);
    await p2.evaluate(() => {
        sluice.consent({ categories: [] });
        sluice.track('After Refusal');
    });
    await sleep(200);
    await p3.evaluate(() => sluice.track('Other Tab After Refusal'));
    await sleep(1000);
    assert.equal(t.batches().length, sentBefore, 'nothing sent after refusal');
    assert.equal((await p3.evaluate(() => sluice.stats())).denied, 1, 'the other tab dropped its event');
    assert.deepEqual(await storedKeys(p2), ['sluice:consent']);
    assert.deepEqual(await p2.evaluate(() => JSON.parse(localStorage.getItem('sluice:consent'))), []);
    assert.ok((await p2.evaluate(() => sluice.stats())).denied >= 1);
    assert.equal((await kafka()).filter((m) => m.event.event === 'After Refusal').length, 0);

    // Granting again works from here on.
    const id = await p2.evaluate(() => {
        sluice.consent({ categories: ['analytics', 'ads'] });
        sluice.track('Granted Again');
        return sluice.anonymousId();
    });
    const [again] = await waitFor('the event after granting again', async () => {
        const m = (await kafka()).filter((x) => x.event.event === 'Granted Again');
        return m.length && m;
    });
    assert.deepEqual(again.event.context.consent, { categories: ['analytics', 'ads'] });
    assert.equal(again.event.anonymousId, id);
    assert.notEqual(id, aid, 'refusing forgot the old anonymous id');
    await sleep(1000);
    assert.equal((await kafka()).filter((m) => m.event.event === 'Orphaned').length, 0, 'the queue left before the refusal was never sent');

    // Withdrawing one category: events still queued when the visitor withdraws it (waiting for
    // their batch, or for a gateway that is down) are sent without it, in this tab and in the
    // visitor's other open tab, whose later events go without it too. They used to carry it, so
    // a marketing integration got events sent after the visitor said no to marketing.
    servePage(SHOP, '/slow', page({ title: 'Slow', head: tagScript({ ...attrs, 'flush-interval': 60000 }) }));
    const p4 = await t.open(`${SHOP}/slow`, c);
    const p5 = await t.open(`${SHOP}/slow`, c);
    const queued = await p4.evaluate(() => {
        sluice.track('Before Withdrawal');
        return sluice.stats().queued;
    });
    assert.equal(queued, 2, 'the page view and the track wait for their batch');
    assert.equal(await p5.evaluate(() => sluice.stats().queued), 1, 'the other tab\'s page view waits too');
    await p4.evaluate(() => sluice.consent({ categories: ['analytics'] }));
    await sleep(300);
    await p5.evaluate(() => {
        sluice.track('Other Tab After Withdrawal');
        return sluice.flush();
    });
    const sent = await waitFor('the events queued before the withdrawal', async () => {
        const m = (await kafka()).filter((x) => x.event.anonymousId === id && x.event.context.page.title === 'Slow');
        return m.length >= 4 && m;
    });
    for (const m of sent) assert.deepEqual(m.event.context.consent, { categories: ['analytics'] }, `${m.event.event || m.event.type} without the withdrawn category`);
}
