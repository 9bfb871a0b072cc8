// What careless and hostile pages pass to the tag, and what must still arrive: properties that
// JSON cannot encode (a cycle: that event is dropped and counted; a BigInt: sent as a string)
// never block the events after them; lone surrogates (a string cut in the middle of an emoji)
// arrive as U+FFFD instead of making the gateway refuse the whole batch; an object changed by
// the page after the call arrives as it was at the call; numbers, dates, NaN, functions and
// DOM nodes arrive as JSON.stringify makes them; a page with Prototype.js's
// Array.prototype.toJSON still sends arrays as arrays; a batch under 64 KiB in characters but
// over it in UTF-8 bytes (CJK text) is sent without keepalive, which the browser would refuse;
// a batch of big events over the gateway's body limit is split (its 413 reaches the page as a
// network error, which would be retried forever); a batch the gateway refuses whole for one
// event (a string over its limit) is split until only that event is dropped; an event over
// 60,000 bytes, which no request of the tag can carry, is dropped at the call.
import { SHOP, assert, env, eventsWhere, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    servePage(SHOP, '/payloads', page({ title: 'Payloads', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100, 'auto-page': 'false' }) }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/payloads`, c);
    const aid = await p.evaluate(() => sluice.anonymousId());
    const mine = (name) => (e) => e.anonymousId === aid && e.event === name;
    const settled = () => waitFor('an empty queue', () => p.evaluate(() => (sluice.stats().queued === 0 ? sluice.stats() : null)));

    // 1. A cycle and a BigInt in the same batch as a good event.
    await p.evaluate(() => {
        const cyc = { a: 1 };
        cyc.self = cyc;
        sluice.track('Cyclic', cyc);
        sluice.track('Big', { n: 12345678901234567890n });
        sluice.track('After Poison', { ok: true });
    });
    const [after] = await eventsWhere('the event after an unserialisable one', mine('After Poison'));
    assert.deepEqual(after.event.properties, { ok: true });
    const [big] = await eventsWhere('the BigInt event', mine('Big'));
    assert.deepEqual(big.event.properties, { n: '12345678901234567890' });
    const s1 = await settled();
    assert.equal(s1.invalid, 1, 'the cyclic event is counted as invalid');
    assert.equal(s1.sent, 2);

    // 2. Lone surrogates, in a value and in a key, next to a good event.
    await p.evaluate(() => {
        sluice.track('Truncated', { title: '😀'.slice(0, 1) + 'x', ['k' + '😀'.slice(1)]: 1, ok: 'é😀' });
        sluice.track('Neighbour');
    });
    const [cut] = await eventsWhere('the event with lone surrogates', mine('Truncated'));
    assert.deepEqual(cut.event.properties, { title: '\ufffdx', 'k\ufffd': 1, ok: 'é😀' });
    await eventsWhere('its neighbour in the batch', mine('Neighbour'));

    // 3. Values as JSON.stringify makes them; an object changed after the call.
    await p.evaluate(() => {
        const o = { step: 1, list: [1] };
        sluice.track('Values', {
            price: 19.9,
            tax: 0.1,
            tiny: 1e-7,
            big: 2 ** 53,
            nan: NaN,
            inf: -Infinity,
            undef: undefined,
            fn() {},
            date: new Date(0),
            node: document.body,
            o,
        });
        o.step = 2;
        o.list.push(2);
    });
    const [vals] = await eventsWhere('the values', mine('Values'));
    assert.deepEqual(vals.event.properties, {
        price: 19.9,
        tax: 0.1,
        tiny: 1e-7,
        big: 2 ** 53,
        nan: null,
        inf: null,
        date: '1970-01-01T00:00:00.000Z',
        node: {},
        o: { step: 1, list: [1] },
    });

    // 4. Prototype.js (before 1.7) defines Array.prototype.toJSON returning a string.
    await p.evaluate(() => {
        Array.prototype.toJSON = function () {
            return '[' + this.map((x) => JSON.stringify(x)).join(',') + ']';
        };
        sluice.track('Prototype Page', { items: [1, 2] });
    });
    const [proto] = await eventsWhere('the event of a Prototype.js page', mine('Prototype Page'));
    assert.deepEqual(proto.event.properties, { items: [1, 2] });
    await p.evaluate(() => delete Array.prototype.toJSON);

    // 5. A full batch of CJK text: about 48,000 characters, 125,000 bytes.
    await p.evaluate(() => {
        for (let i = 1; i <= 20; i++) sluice.track(`Wide ${i}`, { text: '字'.repeat(2000) });
    });
    const wide = await eventsWhere('the 20 wide events', (e) => e.anonymousId === aid && /^Wide \d+$/.test(e.event || ''), 20, 30000);
    assert.equal(wide[0].event.properties.text, '字'.repeat(2000));

    // 6. A full batch of big events, each within the gateway's max_event_bytes (32 KiB), together
    // over its max_body_bytes (512 KiB): sent in smaller batches, all of them accepted.
    await p.evaluate(() => {
        const s = 'x'.repeat(7000);
        for (let i = 1; i <= 20; i++) sluice.track(`Large ${i}`, { a: s, b: s, c: s, d: s });
    });
    await eventsWhere('the 20 large events', (e) => e.anonymousId === aid && /^Large \d+$/.test(e.event || ''), 20, 30000);

    // 7. An event over a limit the gateway checks while parsing the whole body (a string over
    // max_string_bytes, 8 KiB: a long description, an error's stack) makes it refuse the batch
    // with a 400: the tag splits the batch until that event is alone, and only it is dropped.
    t.allowConsole(/Failed to load resource: the server responded with a status of 400/);
    await p.evaluate(() => {
        for (let i = 1; i <= 4; i++) sluice.track(`Beside ${i}`);
        sluice.track('Long', { stack: 'x'.repeat(9000) });
        for (let i = 5; i <= 8; i++) sluice.track(`Beside ${i}`);
    });
    await eventsWhere('the events beside the long one', (e) => e.anonymousId === aid && /^Beside \d$/.test(e.event || ''), 8);

    // 8. One event bigger than any request the tag may make (a pasted document, a base64
    // image in a property): the gateway's front end resets the connection for a body that far
    // over max_body_bytes, which looked like an outage, so it was retried for ever and every
    // later event of the visitor waited behind it. It is dropped at the call, counted.
    await p.evaluate(() => {
        sluice.track('Huge', { image: 'x'.repeat(700000) });
        sluice.track('After Huge');
    });
    await eventsWhere('the event after a huge one', mine('After Huge'));

    await sleep(500);
    const s5 = await settled();
    assert.equal(s5.retries, 0, 'nothing was retried');
    assert.equal(s5.invalid, 3, 'only the cyclic event, the long one and the huge one were refused');
}
