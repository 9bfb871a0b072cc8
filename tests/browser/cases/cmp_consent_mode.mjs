// The Google Consent Mode v2 adapter (data-consent-mode) reading gtag('consent', ...) commands
// from the data layer, as gtag.js and Tag Manager sites make them (`arguments` objects pushed on
// window.dataLayer, push wrapped by the Google scripts that load later).
//   - Denied by default, then denied by the visitor: nothing is ever sent or stored, and what
//     waited is dropped. A default for another region only is not taken as an answer.
//   - Denied by default, then analytics_storage granted by an update after load (through a
//     wrapped dataLayer.push): what waited arrives with `analytics` only.
//   - Granted by default (no banner where consent is not required): sent at once, with every
//     category the signals grant.
//   - A data layer of an unexpected shape does not stop the tag.
import { SHOP, assert, env, kafka, page, servePage, sleep, storedKeys, tagScript, waitFor } from '../lib.mjs';

const GTAG = (defaults) => `<script>
window.dataLayer = window.dataLayer || [];
function gtag() { dataLayer.push(arguments); }
${defaults.map((d) => `gtag('consent', 'default', ${JSON.stringify(d)});`).join('\n')}
gtag('js', new Date());
gtag('config', 'G-TEST');
</script>`;

// What gtag.js does when it loads: it takes over dataLayer.push, calling the previous one.
const GTAG_JS = `<script>
(() => {
    const before = dataLayer.push;
    window.__gtagSeen = 0;
    dataLayer.push = function () { window.__gtagSeen++; return before.apply(dataLayer, arguments); };
})();
</script>`;

const DENIED = { analytics_storage: 'denied', ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' };
const ofOrg = async (aid) => (await kafka()).filter((m) => m.org === 'consentco' && m.event.anonymousId === aid);

export default async function (t) {
    const attrs = { 'write-key': env.keys.consent, 'consent-mode': '', 'flush-interval': 100 };

    // 1. Denied, then denied again by the visitor.
    const usOnly = { ...DENIED, analytics_storage: 'granted', ad_storage: 'granted', region: ['US'] };
    servePage(SHOP, '/gcm-denied', page({ title: 'Denied', head: GTAG([usOnly, DENIED]) + tagScript(attrs) + GTAG_JS }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/gcm-denied`, c);
    await p.evaluate(() => sluice.track('Before Banner'));
    await sleep(1500);
    assert.equal((await p.evaluate(() => sluice.stats())).held, 2, 'undecided: the page view and the track wait');
    await p.evaluate(() => {
        gtag('consent', 'update', { analytics_storage: 'denied', ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' });
        sluice.track('After Refusal');
    });
    await sleep(1500);
    assert.ok((await p.evaluate(() => window.__gtagSeen)) >= 1, 'the update went through the wrapped push');
    const s = await p.evaluate(() => sluice.stats());
    assert.equal(s.held, 0);
    assert.equal(s.sent, 0);
    assert.equal(s.denied, 3, 'the page view, the track before and the track after: dropped');
    assert.equal(t.batches().length, 0, 'Consent Mode denied: nothing sent');
    assert.deepEqual(await storedKeys(p), ['sluice:consent'], 'only the refusal is stored');

    // 2. Denied by default, analytics granted after load.
    servePage(SHOP, '/gcm-grant', page({ title: 'Grant', head: GTAG([DENIED]) + tagScript(attrs) + GTAG_JS }));
    const p2 = await t.open(`${SHOP}/gcm-grant`);
    await p2.evaluate(() => sluice.track('Waiting', { n: 1 }));
    await sleep(500);
    assert.equal(t.batches().length, 0, 'nothing sent before the update');
    await p2.evaluate(() => gtag('consent', 'update', { analytics_storage: 'granted' }));
    const aid2 = await p2.evaluate(() => sluice.anonymousId());
    const got = await waitFor('the held events after the update', async () => {
        const m = await ofOrg(aid2);
        return m.length >= 2 && m;
    });
    assert.deepEqual(got.map((m) => m.event.type).sort(), ['page', 'track']);
    for (const m of got) assert.deepEqual(m.event.context.consent.categories, ['analytics']);

    // ad_storage and ad_user_data granted later: marketing joins.
    await p2.evaluate(() => {
        gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted' });
        sluice.track('Marketing Too');
    });
    const [more] = await waitFor('the event after the second update', async () => {
        const m = (await ofOrg(aid2)).filter((x) => x.event.event === 'Marketing Too');
        return m.length && m;
    });
    assert.deepEqual(more.event.context.consent.categories, ['analytics', 'marketing']);

    // 3. Granted by default: no waiting.
    const granted = { analytics_storage: 'granted', ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' };
    servePage(SHOP, '/gcm-default-granted', page({ title: 'Granted', head: GTAG([granted]) + tagScript(attrs) }));
    const p3 = await t.open(`${SHOP}/gcm-default-granted`);
    const aid3 = await p3.evaluate(() => sluice.anonymousId());
    const [pv3] = await waitFor('the page view granted by default', async () => {
        const m = await ofOrg(aid3);
        return m.length && m;
    });
    assert.deepEqual(pv3.event.context.consent.categories, ['analytics', 'marketing', 'personalization']);

    // 4. A data layer of an unexpected shape: the tag still starts (and, with no answer, waits).
    servePage(SHOP, '/gcm-odd', page({ title: 'Odd', head: '<script>window.dataLayer = { push: 1 };</script>' + tagScript(attrs) }));
    const p4 = await t.open(`${SHOP}/gcm-odd`);
    await p4.evaluate(() => sluice.track('Odd'));
    const s4 = await p4.evaluate(() => sluice.stats());
    assert.equal(s4.held, 2, 'started: the page view and the track wait for consent');
}
