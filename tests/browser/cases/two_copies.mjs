// Two copies of the tag on one page, as sites end up with: the tag hard-coded in the page and
// Tag Manager adding it again (its own <script> with data-write-key, and a loader snippet that
// calls init and track), in either order; and a page that pinned an earlier release with SRI
// beside the current /sluice.js. One copy runs: one page view, each call once, the first
// copy's settings.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GW, SHOP, assert, env, kafka, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

// What Tag Manager's Custom HTML tag does: script elements made and inserted by script, later.
const GTM = `<script>
setTimeout(() => {
    window.sluice = window.sluice || [];
    sluice.push(['init', { writeKey: '${env.keys.web}', flushInterval: 100 }]);
    sluice.push(['track', 'From Tag Manager']);
    const s = document.createElement('script');
    s.src = '${GW}/sluice.js';
    s.async = true;
    s.dataset.writeKey = '${env.keys.web}';
    document.head.appendChild(s);
}, 50);
</script>`;

export default async function (t) {
    const hard = tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 });
    const old = readFileSync(join(env.sourceDir, 'gateway/tag/dist/previous/sluice-0.2.3.min.js'));
    const pinned = `<script src="${GW}/sluice.${createHash('sha256').update(old).digest('hex').slice(0, 16)}.js" integrity="sha384-${createHash('sha384').update(old).digest('base64')}" crossorigin="anonymous" data-write-key="${env.keys.web}" data-flush-interval="100"></script>`;
    servePage(SHOP, '/hard-then-gtm', page({ title: 'Hard then GTM', head: hard, body: GTM }));
    servePage(SHOP, '/gtm-then-hard', page({ title: 'GTM then hard', head: GTM.replace('setTimeout(() => {', '(() => {').replace('}, 50);', '})();'), body: `<script>setTimeout(() => document.head.appendChild(Object.assign(document.createElement('script'), { src: '${GW}/sluice.js' })), 500);</script>` }));
    servePage(SHOP, '/pinned-and-current', page({ title: 'Pinned and current', head: pinned + hard }));

    for (const path of ['/hard-then-gtm', '/gtm-then-hard', '/pinned-and-current']) {
        const p = await t.open(`${SHOP}${path}`, await t.context());
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION && document.querySelectorAll('script[src*="sluice"]').length >= 2, null, { timeout: 10000 });
        await sleep(800); // the second copy has run by now
        const aid = await p.evaluate(() => sluice.anonymousId());
        await p.evaluate(() => sluice.track('After Both'));
        await waitFor(`${path}: the track`, async () => (await kafka()).some((m) => m.event.anonymousId === aid && m.event.event === 'After Both'));
        await sleep(1000);
        const mine = (await kafka()).filter((m) => m.event.context?.page?.path === path).map((m) => m.event);
        const views = mine.filter((e) => e.type === 'page');
        assert.equal(views.length, 1, `${path}: one page view, not one per copy`);
        assert.equal(mine.filter((e) => e.event === 'After Both').length, 1, `${path}: a call once`);
        if (path !== '/pinned-and-current') assert.equal(mine.filter((e) => e.event === 'From Tag Manager').length, 1, `${path}: the snippet's track once`);
        else assert.equal(views[0].context.library.version, '0.2.3', 'the first copy (the pinned build) runs');
        assert.deepEqual([...new Set(mine.map((e) => e.anonymousId))], [aid], `${path}: one visitor`);
    }
}
