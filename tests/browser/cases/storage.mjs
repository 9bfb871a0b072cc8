// Storage that throws: Firefox's NS_ERROR_FILE_CORRUPTED (a damaged profile) makes every
// Storage method and property throw, and some privacy modes and extensions do the same. The
// tag then works from memory: its page view and later calls still arrive, and nothing throws
// into the page.
import { SHOP, assert, env, eventsWhere, page, servePage, tagScript } from '../lib.mjs';

export default async function (t) {
    servePage(SHOP, '/broken-storage', page({ title: 'Broken storage', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 }) }));
    const c = await t.context();
    await c.addInitScript(() => {
        const boom = () => {
            throw new DOMException('Component returned failure code: 0x80520015 (NS_ERROR_FILE_CORRUPTED)', 'NS_ERROR_FILE_CORRUPTED');
        };
        for (const m of ['getItem', 'setItem', 'removeItem', 'key', 'clear']) Storage.prototype[m] = boom;
        Object.defineProperty(Storage.prototype, 'length', { get: boom, configurable: true });
    });
    const p = await t.open(`${SHOP}/broken-storage`, c);
    const aid = await p.evaluate(() => sluice.anonymousId());
    const [pv] = await eventsWhere('the page view', (e) => e.type === 'page' && e.anonymousId === aid);
    assert.equal(pv.event.context.page.title, 'Broken storage');
    await p.evaluate(() => sluice.track('From Memory', { n: 1 }));
    const [tr] = await eventsWhere('the track call', (e) => e.event === 'From Memory' && e.anonymousId === aid);
    assert.deepEqual(tr.event.properties, { n: 1 });
}
