// Prerendering (Speculation Rules): the shop's home page asks Chromium to prerender /product
// and /never. Both run the tag before the visitor sees them; the visitor then goes to /product
// only. The product's page view, and the track its script made while prerendered, are made when
// it is shown (after the home page's last event), once; /never, never shown, sends nothing.
// sluice.anonymousId() answers while prerendered, with the id the page's events then carry.
//
// Chromium here runs without DevTools: a DevTools client (playwright) turns prerendering off
// (PrerenderingDisabledByDevTools), so the case starts it itself and reads what arrived in Kafka.
// The pages pace themselves: each prerendered page marks localStorage a second after its load
// (time enough for a tag to have sent its page view), and the home page leaves once both have.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHOP, assert, chromiumArgs, env, kafka, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

const TAG = tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 });
// Marks localStorage one second after load, so the home page knows the prerender ran its tag.
const ready = (name) => `<script>addEventListener('load', () => setTimeout(() => localStorage.setItem('ready:${name}', '1'), 1000));</script>`;

const madeAt = (e) => Date.parse(e.originalTimestamp ?? e.timestamp);

export default async function (t) {
    servePage(
        SHOP,
        '/home',
        page({
            title: 'Home',
            head: `<script type="speculationrules">{"prerender": [{"source": "list", "urls": ["/product", "/never"], "eagerness": "immediate"}]}</script>${TAG}`,
            body: `<script>
const wait = setInterval(() => {
    if (!localStorage.getItem('ready:product') || !localStorage.getItem('ready:never')) return;
    clearInterval(wait);
    sluice.track('Leaving Home');
    location.href = '/product';
}, 100);
</script>`,
        })
    );
    servePage(
        SHOP,
        '/product',
        page({
            title: 'Widget',
            head: TAG,
            body: `<script>
// A site bucketing its visitors for an A/B test reads the id while prerendered.
sluice.track('Product Viewed', { product_id: 'sku-1', prerendering: !!document.prerendering, bucketedAs: sluice.anonymousId() });
const shown = () => sluice.track('Shown', { activationStart: performance.getEntriesByType('navigation')[0].activationStart });
document.prerendering ? document.addEventListener('prerenderingchange', shown) : shown();
</script>${ready('product')}`,
        })
    );
    servePage(SHOP, '/never', page({ title: 'Never', head: TAG, body: `<script>sluice.track('Never Seen');</script>${ready('never')}` }));

    const profile = mkdtempSync(join(tmpdir(), 'sluice-prerender-'));
    // Its own process group, so that the browser's helpers (zygote, GPU, renderers) go with it.
    const chromium = spawn(env.chromium, [...chromiumArgs(), '--headless=new', `--user-data-dir=${profile}`, `${SHOP}/home`], {
        stdio: 'ignore',
        detached: true,
    });
    try {
        const shown = await waitFor(
            'the product page shown',
            async () => (await kafka()).find((m) => m.event.event === 'Shown'),
            40000,
            500
        );
        assert.ok(shown.event.properties.activationStart > 0, 'the product page was prerendered, then shown');
        await sleep(2000); // anything more would have arrived by now
        const all = (await kafka()).map((m) => m.event);
        const leaving = all.find((e) => e.event === 'Leaving Home');
        assert.ok(leaving, 'the home page said when the visitor left it');

        const views = all.filter((e) => e.type === 'page' && e.properties.path === '/product');
        assert.equal(views.length, 1, 'one page view of the product');
        const [view] = views;
        assert.equal(view.properties.url, `${SHOP}/product`);
        assert.equal(view.properties.referrer, `${SHOP}/home`);
        assert.equal(view.properties.title, 'Widget');
        assert.ok(madeAt(view) >= madeAt(leaving), `the page view is made when the page is shown, not while prerendered (${view.timestamp} before ${leaving.timestamp})`);

        const [viewed, ...more] = all.filter((e) => e.event === 'Product Viewed');
        assert.equal(more.length, 0, 'the product viewed once');
        assert.equal(viewed.properties.prerendering, true, 'the page called track while prerendered');
        assert.ok(madeAt(viewed) >= madeAt(leaving), 'a call made while prerendered carries the time the page is shown');
        assert.ok(madeAt(viewed) >= madeAt(view), 'after its page view');
        assert.equal(viewed.anonymousId, leaving.anonymousId, 'the same visitor');
        assert.equal(viewed.properties.bucketedAs, viewed.anonymousId, 'sluice.anonymousId() while prerendered is the id the events carry');

        const never = all.filter((e) => JSON.stringify(e).includes(`${SHOP}/never`));
        assert.deepEqual(never.map((e) => e.type + ' ' + (e.event || '')), [], 'a prerendered page never shown sends nothing');
    } finally {
        const exited = new Promise((res) => (chromium.exitCode !== null ? res() : chromium.once('exit', res)));
        try {
            process.kill(-chromium.pid, 'SIGKILL');
        } catch {
            // the group is gone already
        }
        await exited;
        // The browser's helpers may still be writing into the profile for a moment after the
        // browser's own exit: ENOTEMPTY failed a clean clone's run whose assertions had passed.
        for (let tries = 0; ; tries++) {
            try {
                rmSync(profile, { recursive: true, force: true });
                break;
            } catch (e) {
                if (tries >= 50) throw e;
                await sleep(100);
            }
        }
    }
}
