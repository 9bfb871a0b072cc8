// Single-page apps (data-auto-page="history"): a visitor comes from /start to the app at /app,
// which navigates with history.pushState to /app/products?cat=1 (setting its title after the
// call, as routers do) and /app/cart: three routes, three page views, each with the previous
// address as referrer (the first with document.referrer), in context.page too. replaceState or
// pushState to the same address, and a change of the fragment only, send nothing (nor going back
// through those); going back (popstate) to /app/products sends one with /app/cart as referrer. With autoPage true (the
// default) the same navigation sends only the first page view.
import { SHOP, assert, env, kafka, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

const APP = (autoPage) =>
    page({
        title: 'App',
        head: tagScript({ 'write-key': env.keys.web, 'auto-page': autoPage, 'flush-interval': 100 }),
        body: `<script>
window.go = (path, title) => { history.pushState({ path }, '', path); if (title) document.title = title; };
</script>`,
    });

// In the order the visitor made them, by the page's own clock: timestamp is the gateway's
// correction for the visitor's clock, per request, so it can put a page view that travelled in a
// slow request after a later one (the queued time is kept as originalTimestamp).
const madeAt = (e) => Date.parse(e.originalTimestamp ?? e.timestamp);
const pagesOf = async (aid) =>
    (await kafka())
        .filter((m) => m.event.anonymousId === aid && m.event.type === 'page')
        .map((m) => m.event)
        .sort((a, b) => madeAt(a) - madeAt(b));

export default async function (t) {
    servePage(SHOP, '/start', page({ title: 'Start', body: '<a id="in" href="/app">the app</a>' }));
    for (const p of ['/app', '/app/products', '/app/cart', '/classic']) servePage(SHOP, p, APP(p === '/classic' ? 'true' : 'history'));

    const c = await t.context();
    const p = await c.newPage();
    await p.goto(`${SHOP}/start`);
    await Promise.all([p.waitForURL(`${SHOP}/app`), p.click('#in')]);
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const aid = await p.evaluate(() => sluice.anonymousId());

    // Each navigation waits for its page view to be made (not a fixed sleep: under load the
    // tag's task after pushState may come late).
    const made = (n) => p.waitForFunction((k) => { const s = sluice.stats(); return s.sent + s.queued + s.invalid >= k; }, n);
    await made(1);
    await p.evaluate(() => go('/app/products?cat=1', 'Products'));
    await made(2);
    await p.evaluate(() => go('/app/cart', 'Cart'));
    await made(3);
    await p.evaluate(() => sluice.track('Cart Viewed'));
    // Not new pages: the same address again, and a fragment.
    await p.evaluate(() => {
        history.replaceState({ again: 1 }, '', '/app/cart');
        history.pushState(null, '', '/app/cart');
        history.pushState(null, '', '/app/cart#reviews');
    });
    await sleep(300);

    const three = await waitFor('three page views', async () => {
        const v = await pagesOf(aid);
        return v.length >= 3 && v;
    });
    await sleep(1000); // anything more would have arrived by now
    assert.equal((await pagesOf(aid)).length, 3, 'replaceState, the same address and a fragment send nothing');
    // In the order the visitor made them: each may travel in a request of its own, and two
    // requests reach Kafka in either order.
    three.sort((a, b) => madeAt(a) - madeAt(b));
    const want = [
        { path: '/app', url: `${SHOP}/app`, referrer: `${SHOP}/start`, title: 'App' },
        { path: '/app/products', url: `${SHOP}/app/products?cat=1`, referrer: `${SHOP}/app`, title: 'Products' },
        { path: '/app/cart', url: `${SHOP}/app/cart`, referrer: `${SHOP}/app/products?cat=1`, title: 'Cart' },
    ];
    three.forEach((e, i) => {
        assert.equal(e.properties.path, want[i].path);
        assert.equal(e.properties.url, want[i].url);
        assert.equal(e.properties.referrer, want[i].referrer, `referrer of page view ${i + 1}`);
        assert.equal(e.properties.title, want[i].title, `title of page view ${i + 1}`);
        assert.deepEqual(e.context.page, { url: want[i].url, path: want[i].path, referrer: want[i].referrer, title: want[i].title });
    });
    assert.equal(three[1].properties.search, '?cat=1');
    const [track] = await waitFor('the track on the cart route', async () => {
        const m = (await kafka()).filter((x) => x.event.anonymousId === aid && x.event.event === 'Cart Viewed');
        return m.length && m;
    });
    assert.equal(track.event.context.page.referrer, `${SHOP}/app/products?cat=1`, 'other events carry the route referrer too');

    // Back: from #reviews to the pushed /app/cart, to the replaced /app/cart (both the same
    // page), then to /app/products: a popstate to a new address.
    for (let i = 0; i < 2; i++) {
        await p.evaluate(() => history.back());
        await sleep(300);
    }
    assert.equal((await pagesOf(aid)).length, 3);
    await p.evaluate(() => history.back());
    const four = await waitFor('the page view of going back', async () => {
        const v = await pagesOf(aid);
        return v.length >= 4 && v;
    });
    await sleep(1000);
    assert.equal((await pagesOf(aid)).length, 4);
    assert.equal(four[3].properties.url, `${SHOP}/app/products?cat=1`);
    assert.equal(four[3].properties.referrer, `${SHOP}/app/cart`);

    // autoPage true: the page view at start only.
    const p2 = await t.open(`${SHOP}/classic`);
    const aid2 = await p2.evaluate(() => sluice.anonymousId());
    await p2.evaluate(() => go('/app/products', 'Products'));
    await p2.evaluate(() => go('/app/cart', 'Cart'));
    await waitFor('the classic page view', async () => (await pagesOf(aid2)).length >= 1);
    await sleep(1500);
    assert.equal((await pagesOf(aid2)).length, 1, 'without autoPage history, route changes send nothing');
}
