// The group-id adapters against stubs that behave like the real CMPs:
//   - OneTrust (data-onetrust): OnetrustActiveGroups (",C0001,") and OneTrust.IsAlertBoxClosed()
//     while the banner is up; the visitor accepts performance cookies (C0002) after load: the
//     global is rewritten and OneTrustGroupsUpdated fired, OptanonWrapper called; what waited
//     arrives with `analytics`. A custom mapping comes as JSON.
//   - Cookiebot (data-cookiebot), whose script loads after the tag: Cookiebot.consent,
//     hasResponse, CookiebotOnLoad / CookiebotOnAccept / CookiebotOnDecline on window; accepting
//     statistics and marketing sends with both categories, declining later stops sending.
import { SHOP, assert, env, kafka, page, servePage, sleep, storedKeys, tagScript, waitFor } from '../lib.mjs';

const ONETRUST = `<script>
(() => {
    let closed = false;
    window.OnetrustActiveGroups = ',C0001,';
    window.OptanonActiveGroups = ',C0001,';
    window.OneTrust = {
        IsAlertBoxClosed: () => closed,
        // The banner's buttons.
        choose(groups) {
            closed = true;
            window.OnetrustActiveGroups = window.OptanonActiveGroups = ',' + groups.join(',') + ',';
            window.dispatchEvent(new CustomEvent('OneTrustGroupsUpdated', { detail: groups }));
            if (typeof window.OptanonWrapper == 'function') window.OptanonWrapper();
        },
    };
    window.__wrapperCalls = 0;
    window.OptanonWrapper = () => window.__wrapperCalls++;
    // On load OneTrust fires the event once with the active groups.
    setTimeout(() => window.dispatchEvent(new CustomEvent('OneTrustGroupsUpdated', { detail: ['C0001'] })));
})();
</script>`;

const COOKIEBOT = `(() => {
    const cb = (window.Cookiebot = {
        consent: { stamp: '0', necessary: true, preferences: false, statistics: false, marketing: false, method: null },
        consented: false, declined: false, hasResponse: false, doNotTrack: false,
        // The banner's buttons.
        submit(choice) {
            Object.assign(cb.consent, choice, { stamp: 'x' + Date.now(), method: 'explicit' });
            cb.hasResponse = true;
            cb.consented = choice.statistics || choice.marketing || choice.preferences;
            cb.declined = !cb.consented;
            window.dispatchEvent(new Event(cb.consented ? 'CookiebotOnAccept' : 'CookiebotOnDecline'));
            window.dispatchEvent(new Event('CookiebotOnConsentReady'));
        },
    });
    window.dispatchEvent(new Event('CookiebotOnLoad'));
})();`;

const byAid = async (org, aid) => (await kafka()).filter((m) => m.org === org && m.event.anonymousId === aid);

export default async function (t) {
    // 1. OneTrust, a custom mapping given as JSON.
    const ot = { 'write-key': env.keys.consent, onetrust: JSON.stringify({ analytics: ['C0002'], marketing: ['C0004'], functional: ['C0003'] }), 'flush-interval': 100 };
    servePage(SHOP, '/onetrust', page({ title: 'OneTrust', head: ONETRUST + tagScript(ot) }));
    const p = await t.open(`${SHOP}/onetrust`);
    await p.evaluate(() => sluice.track('Before Banner'));
    await sleep(1500);
    assert.equal(t.batches().length, 0, 'nothing sent while the banner is up');
    assert.deepEqual(await storedKeys(p), []);
    assert.equal((await p.evaluate(() => sluice.stats())).held, 2);
    await p.evaluate(() => OneTrust.choose(['C0001', 'C0002']));
    const aid = await p.evaluate(() => sluice.anonymousId());
    const got = await waitFor('the held events after OneTrust', async () => {
        const m = await byAid('consentco', aid);
        return m.length >= 2 && m;
    });
    for (const m of got) assert.deepEqual(m.event.context.consent.categories, ['analytics']);
    assert.equal(await p.evaluate(() => window.__wrapperCalls), 1, "the site's OptanonWrapper still runs");

    // Functional and targeting added later.
    await p.evaluate(() => {
        OneTrust.choose(['C0001', 'C0002', 'C0003', 'C0004']);
        sluice.track('All Groups');
    });
    const [all] = await waitFor('the event after all groups', async () => {
        const m = (await byAid('consentco', aid)).filter((x) => x.event.event === 'All Groups');
        return m.length && m;
    });
    assert.deepEqual(all.event.context.consent.categories, ['analytics', 'marketing', 'functional']);

    // 2. Cookiebot, loading 500 ms after the tag, default mapping.
    const cbAttrs = { 'write-key': env.keys.consent, cookiebot: '', 'flush-interval': 100 };
    const late = `<script>setTimeout(() => { const s = document.createElement('script'); s.textContent = ${JSON.stringify(COOKIEBOT)}; document.head.appendChild(s); }, 500);</script>`;
    servePage(SHOP, '/cookiebot', page({ title: 'Cookiebot', head: tagScript(cbAttrs) + late }));
    const c = await t.context();
    const p2 = await t.open(`${SHOP}/cookiebot`, c);
    await waitFor('Cookiebot to load', () => p2.evaluate(() => !!window.Cookiebot));
    await sleep(500);
    const sent = t.batches().length;
    assert.equal((await p2.evaluate(() => sluice.stats())).held, 1, 'the page view waits for an answer');
    await p2.evaluate(() => Cookiebot.submit({ preferences: false, statistics: true, marketing: true }));
    const aid2 = await p2.evaluate(() => sluice.anonymousId());
    const [pv] = await waitFor('the page view after Cookiebot', async () => {
        const m = await byAid('consentco', aid2);
        return m.length && m;
    });
    assert.equal(pv.event.type, 'page');
    assert.deepEqual(pv.event.context.consent.categories, ['analytics', 'marketing']);
    assert.ok(t.batches().length > sent);

    // Declined later: nothing more is sent.
    await p2.evaluate(() => Cookiebot.submit({ preferences: false, statistics: false, marketing: false }));
    await waitFor('the refusal', () => p2.evaluate(() => localStorage.getItem('sluice:consent') === '[]'));
    const before = t.batches().length;
    await p2.evaluate(() => sluice.track('After Decline'));
    await sleep(1000);
    assert.equal(t.batches().length, before, 'nothing sent after declining');
    assert.equal((await kafka()).filter((m) => m.event.event === 'After Decline').length, 0);
}
