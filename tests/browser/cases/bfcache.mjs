// The back/forward cache: a visitor goes /start -> /a -> /b, back to /a and forward to /b, each
// time restored from the cache (pageshow with persisted). Every page the visitor sees again is a
// page view, as it is when the browser loads the page again instead (a page the cache cannot
// keep): /a twice with the same url, referrer and title, /b twice; and what the restored page
// tracks arrives. What the next page did meanwhile holds on the restored one: after a log-out
// there (reset()), its events carry the new anonymous id and no user id; after a refusal of
// consent there, it sends nothing.
//
// Playwright turns the cache off (--disable-back-forward-cache): this case runs its own Chromium
// with it on, and serves its pages without Cache-Control: no-store (pages the cache may keep).
import { chromium } from 'playwright-core';
import { SHOP, assert, chromiumArgs, ctl, env, kafka, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

// In the order the visitor made them, by the page's own clock (see spa.mjs).
const madeAt = (e) => Date.parse(e.originalTimestamp ?? e.timestamp);
const path = (e) => e.context?.page?.path;

const PAGE = (title, body = '', attrs = {}) =>
    page({
        title,
        head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100, ...attrs }),
        body: `${body}<script>addEventListener('pageshow', (e) => { if (e.persisted) window.restored = (window.restored || 0) + 1; });</script>`,
    });

export default async function (t) {
    t.allowConsole(/Failed to load resource: the server responded with a status of 503/);
    // Cacheable pages: Chromium keeps no page served with Cache-Control: no-store.
    servePage(SHOP, '/start', PAGE('Start', '<a id="go" href="/a">a</a>'), 'private, max-age=0');
    servePage(SHOP, '/a', PAGE('Page A', '<a id="go" href="/b">b</a>'), 'private, max-age=0');
    servePage(SHOP, '/b', PAGE('Page B'), 'private, max-age=0');
    servePage(SHOP, '/account', PAGE('Account', '<a id="go" href="/bye">log out</a>'), 'private, max-age=0');
    servePage(SHOP, '/bye', PAGE('Bye', '<script>sluice.reset();</script>'), 'private, max-age=0');
    const CONSENT = (title, body) => PAGE(title, body, { 'require-consent': '' });
    servePage(SHOP, '/consented', CONSENT('Consented', '<a id="go" href="/refuse">privacy</a>'), 'private, max-age=0');
    servePage(SHOP, '/refuse', CONSENT('Privacy', '<script>sluice.consent({ categories: [] });</script>'), 'private, max-age=0');

    const browser = await chromium.launch({ executablePath: env.chromium, args: chromiumArgs(), ignoreDefaultArgs: ['--disable-back-forward-cache'] });
    try {
        const c = await t.context(browser);
        const p = await c.newPage();
        await p.goto(`${SHOP}/start`);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        const aid = await p.evaluate(() => sluice.anonymousId());
        const views = async (path) =>
            (await kafka()).filter((m) => m.event.anonymousId === aid && m.event.type === 'page' && m.event.properties.path === path).map((m) => m.event);
        const sent = (n) => p.waitForFunction((k) => sluice.stats().sent >= k, n);

        await Promise.all([p.waitForURL(`${SHOP}/a`), p.click('#go')]);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        await sent(1);
        await Promise.all([p.waitForURL(`${SHOP}/b`), p.click('#go')]);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        await sent(1);

        // Back to /a, from the cache (no load event: wait for the commit).
        await p.goBack({ waitUntil: 'commit' });
        await p.waitForFunction(() => location.pathname === '/a' && window.restored === 1);
        await p.evaluate(() => sluice.track('Back On A'));
        const a = await waitFor('two page views of /a', async () => {
            const v = await views('/a');
            return v.length >= 2 && v;
        });
        for (const e of a) {
            assert.equal(e.properties.url, `${SHOP}/a`);
            assert.equal(e.properties.referrer, `${SHOP}/start`, 'the page was reached from /start, both times');
            assert.equal(e.properties.title, 'Page A');
        }
        assert.notEqual(a[0].messageId, a[1].messageId);
        await waitFor('the track made after the restore', async () => (await kafka()).some((m) => m.event.anonymousId === aid && m.event.event === 'Back On A'));

        // Forward to /b, from the cache too.
        await p.goForward({ waitUntil: 'commit' });
        await p.waitForFunction(() => location.pathname === '/b' && window.restored === 1);
        await waitFor('two page views of /b', async () => (await views('/b')).length >= 2);

        await sleep(1500); // anything more would have arrived by now
        assert.equal((await views('/a')).length, 2, 'one page view each time /a was shown');
        assert.equal((await views('/b')).length, 2, 'one page view each time /b was shown');
        assert.equal((await views('/start')).length, 1);

        // A log-out on the next page (reset()), then back: the restored page's page view and
        // later events carry the visitor's new anonymous id and no user id, as they would after
        // a reload (the other page's storage events reach a restored page only after pageshow).
        const c2 = await t.context(browser);
        const p2 = await c2.newPage();
        await p2.goto(`${SHOP}/account`);
        await p2.waitForFunction(() => window.sluice && window.sluice.VERSION);
        await p2.evaluate(() => sluice.identify('user-7'));
        await p2.waitForFunction(() => sluice.stats().sent >= 2);
        await Promise.all([p2.waitForURL(`${SHOP}/bye`), p2.click('#go')]);
        await p2.waitForFunction(() => window.sluice && sluice.stats().sent >= 1);
        const fresh = await p2.evaluate(() => sluice.anonymousId());
        await p2.goBack({ waitUntil: 'commit' });
        await p2.waitForFunction(() => location.pathname === '/account' && window.restored === 1);
        await p2.evaluate(() => sluice.track('After Logout'));
        await waitFor('the track after the log-out', async () => (await kafka()).some((m) => m.event.event === 'After Logout'));
        await sleep(1000);
        const all = (await kafka()).map((m) => m.event);
        const bye = all.find((e) => e.type === 'page' && path(e) === '/bye');
        const after = all.filter((e) => path(e) === '/account' && madeAt(e) > madeAt(bye));
        assert.deepEqual(after.map((e) => e.type + ' ' + (e.event || '')).sort(), ['page ', 'track After Logout'], 'the restored page: a page view, the track');
        for (const e of after) {
            assert.equal(e.userId, undefined, `the ${e.type} after the log-out carries no user id`);
            assert.equal(e.anonymousId, fresh, `the ${e.type} after the log-out carries the new anonymous id`);
        }

        // Consent refused on the next page, then back: the restored page sends nothing.
        const c3 = await t.context(browser);
        const p3 = await c3.newPage();
        await p3.goto(`${SHOP}/consented`);
        await p3.waitForFunction(() => window.sluice && window.sluice.VERSION);
        const aid3 = await p3.evaluate(() => sluice.anonymousId());
        await p3.evaluate(() => sluice.consent({ categories: ['analytics'] }));
        await p3.waitForFunction(() => sluice.stats().sent >= 1);
        await Promise.all([p3.waitForURL(`${SHOP}/refuse`), p3.click('#go')]);
        await p3.waitForFunction(() => window.sluice && sluice.stats().denied >= 1);
        await p3.goBack({ waitUntil: 'commit' });
        await p3.waitForFunction(() => location.pathname === '/consented' && window.restored === 1);
        await p3.evaluate(() => sluice.track('After Refusal'));
        await sleep(1500);
        const leaked = (await kafka()).filter((m) => m.event.anonymousId === aid3 || m.event.event === 'After Refusal');
        assert.deepEqual(
            leaked.map((m) => m.event.type + ' ' + path(m.event)),
            ['page /consented'],
            'only the page view made before the refusal'
        );

        // Storage full (the site's own data filled the origin's quota: every setItem of the tag
        // throws QuotaExceededError) and Kafka down (503 with Retry-After): an event tracked then
        // waits in the page's memory; the visitor goes on to /a and comes back. The restored page
        // keeps what waited and sends it once the gateway works again.
        const c4 = await t.context(browser);
        const p4 = await c4.newPage();
        await p4.goto(`${SHOP}/start`);
        await p4.waitForFunction(() => window.sluice && sluice.stats().sent >= 1);
        const full = await p4.evaluate(() => {
            for (let n = 1 << 20, i = 0; n >= 1; n >>= 1)
                for (;;)
                    try {
                        localStorage.setItem('site-cache-' + i++, 'x'.repeat(n));
                    } catch (e) {
                        if (e.name != 'QuotaExceededError') throw e;
                        break;
                    }
            return localStorage.length;
        });
        assert.ok(full > 10, 'the storage is full');
        await ctl('kafka_down');
        try {
            await p4.evaluate(() => sluice.track('While Full'));
            await p4.waitForFunction(() => sluice.stats().retries >= 1 && sluice.stats().queued === 1);
            await Promise.all([p4.waitForURL(`${SHOP}/a`), p4.click('#go')]);
            await p4.goBack({ waitUntil: 'commit' });
            await p4.waitForFunction(() => location.pathname === '/start' && window.restored === 1);
        } finally {
            await ctl('kafka_up');
        }
        await waitFor('the event tracked while the storage was full', async () => (await kafka()).some((m) => m.event.event === 'While Full'), 30000);
    } finally {
        await browser.close().catch(() => {});
    }
}
