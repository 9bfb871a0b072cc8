// The IAB TCF v2.2 adapter (data-tcf) against a stub CMP that behaves like a real one: __tcfapi
// with ping / addEventListener / removeEventListener, callbacks made asynchronously with the TC
// data (eventStatus cmpuishown, then useractioncomplete; tcloaded for a stored decision), every
// purpose listed in purpose.consents. The org (consentco) drops events without `analytics`.
//   - The banner is up: nothing is sent or stored; the visitor grants purposes 1 and 7 after
//     load: what waited arrives with the mapped categories (analytics <- 1, marketing <- 1+7;
//     personalization <- 1+3+4 not granted); withdrawing stops everything.
//   - The CMP's script comes after the tag, with a stored decision: the tag finds it.
//   - gdprApplies false: every mapped category.
//   - Without data-tcf the same stub changes nothing (the adapter is opt-in).
import { SHOP, assert, env, kafka, page, servePage, sleep, storedKeys, tagScript, waitFor } from '../lib.mjs';

// The CMP. window.__cmp.decide([purposes]) is the visitor answering the banner.
const CMP = (stored, gdprApplies = true) => `<script>
(() => {
    const listeners = new Map();
    let next = 1;
    let granted = ${JSON.stringify(stored)}; // null: no decision yet
    const status = () => (granted ? 'tcloaded' : 'cmpuishown');
    let event = status();
    const tcData = (listenerId) => {
        const consents = {};
        for (let p = 1; p <= 11; p++) consents[p] = !!granted && granted.includes(p);
        return {
            tcString: granted ? 'CQ' + granted.join('x') + 'AAAA.YAAAAAAAAAA' : '',
            tcfPolicyVersion: 5, cmpId: 300, cmpVersion: 2, gdprApplies: ${gdprApplies},
            eventStatus: event, cmpStatus: 'loaded', listenerId, isServiceSpecific: true,
            useNonStandardTexts: false, publisherCC: 'DE', purposeOneTreatment: false,
            purpose: { consents, legitimateInterests: {} },
            vendor: { consents: {}, legitimateInterests: {} },
            specialFeatureOptins: {},
            publisher: { consents: {}, legitimateInterests: {}, customPurpose: { consents: {}, legitimateInterests: {} }, restrictions: {} },
        };
    };
    window.__tcfapi = (command, version, callback, parameter) => {
        if (version !== 2 && version !== undefined) return callback(null, false);
        if (command === 'ping') return callback({ gdprApplies: ${gdprApplies}, cmpLoaded: true, cmpStatus: 'loaded', displayStatus: granted ? 'hidden' : 'visible', apiVersion: '2.2', cmpVersion: 2, cmpId: 300, gvlVersion: 80, tcfPolicyVersion: 5 }, true);
        if (command === 'addEventListener') {
            const id = next++;
            listeners.set(id, callback);
            setTimeout(() => callback(tcData(id), true));
            return;
        }
        if (command === 'removeEventListener') return callback(listeners.delete(parameter), true);
        callback(null, false);
    };
    window.__cmp = {
        listeners: () => listeners.size,
        decide(purposes) {
            granted = purposes;
            event = 'useractioncomplete';
            for (const [id, cb] of listeners) setTimeout(() => cb(tcData(id), true));
        },
    };
})();
</script>`;

const MAPPING = JSON.stringify({ analytics: [1], marketing: [1, 7], personalization: [1, 3, 4] });

const ofOrg = async (aid) => (await kafka()).filter((m) => m.org === 'consentco' && m.event.anonymousId === aid);

export default async function (t) {
    const attrs = { 'write-key': env.keys.consent, tcf: MAPPING, 'flush-interval': 100 };

    // 1. The banner is up when the tag starts.
    servePage(SHOP, '/tcf', page({ title: 'TCF', head: CMP(null) + tagScript(attrs) }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/tcf`, c);
    await p.evaluate(() => sluice.track('Before Decision', { n: 1 }));
    await sleep(1500);
    assert.equal(t.batches().length, 0, 'nothing sent while the banner is up');
    assert.deepEqual(await storedKeys(p), [], 'nothing stored while the banner is up');
    assert.equal((await p.evaluate(() => sluice.stats())).held, 2, 'the page view and the track wait');
    assert.equal(await p.evaluate(() => window.__cmp.listeners()), 1, 'the tag listens to the CMP');

    await p.evaluate(() => window.__cmp.decide([1, 7]));
    const aid = await p.evaluate(() => sluice.anonymousId());
    const held = await waitFor('the held events after the grant', async () => {
        const m = await ofOrg(aid);
        return m.length >= 2 && m;
    });
    for (const m of held) assert.deepEqual(m.event.context.consent, { categories: ['analytics', 'marketing'] });
    assert.deepEqual(held.map((m) => m.event.type).sort(), ['page', 'track']);
    assert.deepEqual(held.find((m) => m.event.type === 'track').event.properties, { n: 1 });
    assert.deepEqual(await storedKeys(p), ['sluice:aid', 'sluice:consent']);

    // Later events go at once, with the same categories.
    await p.evaluate(() => sluice.track('After Grant'));
    const [after] = await waitFor('the event after the grant', async () => {
        const m = (await ofOrg(aid)).filter((x) => x.event.event === 'After Grant');
        return m.length && m;
    });
    assert.deepEqual(after.event.context.consent.categories, ['analytics', 'marketing']);

    // Withdrawn in the CMP: nothing more leaves the page, the ids are forgotten.
    const sent = t.batches().length;
    await p.evaluate(() => window.__cmp.decide([]));
    await waitFor('the refusal to reach the tag', () => p.evaluate(() => JSON.parse(localStorage.getItem('sluice:consent') || 'null')?.length === 0));
    await p.evaluate(() => sluice.track('After Withdrawal'));
    await sleep(1000);
    assert.equal(t.batches().length, sent, 'nothing sent after withdrawal');
    assert.deepEqual(await storedKeys(p), ['sluice:consent']);
    assert.ok((await p.evaluate(() => sluice.stats())).denied >= 1);

    // 2. The CMP's script arrives 800 ms after the tag, with a decision stored (purposes 1, 7, 8).
    const late = `<script>setTimeout(() => { const s = document.createElement('script'); s.textContent = ${JSON.stringify(CMP([1, 7, 8]).replace(/<\/?script>/g, ''))}; document.head.appendChild(s); }, 800);</script>`;
    servePage(SHOP, '/tcf-late', page({ title: 'TCF late', head: tagScript(attrs) + late }));
    const p2 = await t.open(`${SHOP}/tcf-late`);
    assert.equal(await p2.evaluate(() => typeof window.__tcfapi), 'undefined', 'the CMP is not there yet');
    const aid2 = await p2.evaluate(() => sluice.anonymousId());
    const [pv2] = await waitFor('the page view once the late CMP answers', async () => {
        const m = await ofOrg(aid2);
        return m.length && m;
    });
    assert.equal(pv2.event.type, 'page');
    assert.deepEqual(pv2.event.context.consent.categories, ['analytics', 'marketing']);

    // 3. GDPR does not apply: every mapped category.
    servePage(SHOP, '/tcf-nogdpr', page({ title: 'TCF no GDPR', head: CMP(null, false) + tagScript(attrs) }));
    const p3 = await t.open(`${SHOP}/tcf-nogdpr`);
    const aid3 = await p3.evaluate(() => sluice.anonymousId());
    const [pv3] = await waitFor('the page view where GDPR does not apply', async () => {
        const m = await ofOrg(aid3);
        return m.length && m;
    });
    assert.deepEqual(pv3.event.context.consent.categories, ['analytics', 'marketing', 'personalization']);

    // 4. Opt-in: without data-tcf the tag ignores the CMP (and sends at once, without categories).
    servePage(SHOP, '/tcf-off', page({ title: 'TCF off', head: CMP(null) + tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 }) }));
    const p4 = await t.open(`${SHOP}/tcf-off`);
    const aid4 = await p4.evaluate(() => sluice.anonymousId());
    const [pv4] = await waitFor('the page view without the adapter', async () => {
        const m = (await kafka()).filter((x) => x.event.anonymousId === aid4);
        return m.length && m;
    });
    assert.deepEqual(pv4.event.context.consent.categories, []);
    assert.equal(await p4.evaluate(() => window.__cmp.listeners()), 0, 'no listener without data-tcf');
}
