// The ways a site installs the tag: the <script> tag printed by `sluicectl tag sri` (with
// subresource integrity, which Chromium checks against the bytes the gateway served), a wrong
// integrity hash (the browser refuses the script), and the loader snippet that queues calls
// made before the file arrives (`window.sluice = [[method, ...args], ...]`), and push after it;
// calls made on the API before init() keep their time and their properties as they were; a
// malformed entry in the snippet's queue does not stop the calls after it; in a sandboxed
// iframe (no origin) the tag does not start and says why.
import { execFileSync } from 'node:child_process';
import { GW, SHOP, assert, env, eventsWhere, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    const out = execFileSync(`${env.buildDir}/tools/sluicectl`, ['tag', 'sri', '--src', `${GW}/sluice.js`, '--write-key', env.keys.web], { encoding: 'utf8' });
    const [hash, script] = out.trim().split('\n');
    assert.match(hash, /^sha384-[A-Za-z0-9+/]{64}$/);
    assert.ok(script.includes(`integrity="${hash}"`) && script.includes('crossorigin="anonymous"'));

    // 1. The printed tag, as is.
    servePage(SHOP, '/sri', page({ title: 'SRI', head: script }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/sri`, c);
    const aid = await p.evaluate(() => sluice.anonymousId());
    const [pv] = await eventsWhere('the page view of the SRI page', (e) => e.type === 'page' && e.anonymousId === aid);
    assert.equal(pv.event.context.page.title, 'SRI');

    // 2. A wrong hash: Chromium blocks the script, so the check above was a real one.
    const bad = script.replace(hash, `sha384-${'A'.repeat(64)}`);
    servePage(SHOP, '/bad-sri', page({ title: 'Bad SRI', head: bad }));
    t.allowConsole(/Failed to find a valid digest in the 'integrity' attribute/);
    const pb = await c.newPage();
    await pb.goto(`${SHOP}/bad-sri`);
    await sleep(1000);
    assert.equal(await pb.evaluate(() => typeof window.sluice), 'undefined', 'a script with a wrong hash does not run');

    // 3. The loader snippet: calls made before the tag loads are replayed in order after init.
    servePage(
        SHOP,
        '/snippet',
        page({
            title: 'Snippet',
            head: `<script>
window.sluice = window.sluice || [];
sluice.push(['init', { writeKey: ${JSON.stringify(env.keys.web)}, endpoint: ${JSON.stringify(GW)}, autoPage: false, flushInterval: 100 }]);
sluice.push(['identify', 'early-user', { plan: 'trial' }]);
sluice.push(['track', 'Signed Up', { via: 'snippet' }]);
</script><script async src="${GW}/sluice.js"></script>`,
        })
    );
    const ps = await t.open(`${SHOP}/snippet`);
    const aid2 = await ps.evaluate(() => sluice.anonymousId());
    const got = await eventsWhere('the snippet calls', (e) => e.anonymousId === aid2, 2);
    assert.deepEqual(got.map((m) => m.event.type).sort(), ['identify', 'track'], 'autoPage: false sent no page view');
    const track = got.find((m) => m.event.type === 'track').event;
    assert.equal(track.event, 'Signed Up');
    assert.equal(track.userId, 'early-user', 'identify ran before track');

    // A snippet that runs after the tag: push on the API object runs the call.
    await ps.evaluate(() => sluice.push(['track', 'Late Push', { n: 2 }]));
    const [late] = await eventsWhere('the late push', (e) => e.event === 'Late Push' && e.anonymousId === aid2);
    assert.deepEqual(late.event.properties, { n: 2 });

    // A snippet with a call pushed the way a data layer takes it (an object, a GTM habit): the
    // calls after it still run.
    servePage(
        SHOP,
        '/snippet-mistake',
        page({
            title: 'Snippet mistake',
            head: `<script>
window.sluice = window.sluice || [];
sluice.push(['init', { writeKey: ${JSON.stringify(env.keys.web)}, endpoint: ${JSON.stringify(GW)}, autoPage: false, flushInterval: 100 }]);
sluice.push({ event: 'Signed Up' });
sluice.push(['track', 'After Mistake']);
</script><script async src="${GW}/sluice.js"></script>`,
        })
    );
    const pm = await t.open(`${SHOP}/snippet-mistake`);
    const aid3 = await pm.evaluate(() => sluice.anonymousId());
    await eventsWhere('the call after a malformed one', (e) => e.event === 'After Mistake' && e.anonymousId === aid3);

    // A sandboxed iframe without allow-same-origin (an ad slot, an embedded widget) has no
    // origin: its requests say `Origin: null`, which no allowed_origins can list. The tag does
    // not start there, says why once, and sends nothing (it used to retry for ever, with a CORS
    // error in the console each time).
    servePage(SHOP, '/widget', page({ title: 'Widget', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100, 'retry-base': 100, 'retry-max': 200 }) }));
    servePage(SHOP, '/embeds', page({ title: 'Embeds', body: '<iframe sandbox="allow-scripts" src="/widget"></iframe>' }));
    t.allowConsole(/^sluice: not started: this page has no origin/);
    const before = t.requests.length;
    const pe = await c.newPage();
    await pe.goto(`${SHOP}/embeds`);
    const frame = await waitFor('the sandboxed frame', () => pe.frames().find((f) => f.url().endsWith('/widget')));
    await frame.waitForFunction(() => window.sluice && window.sluice.VERSION);
    await sleep(2000);
    assert.equal(await frame.evaluate(() => origin), 'null');
    assert.deepEqual(t.requests.slice(before).map((r) => r.url), [], 'nothing sent from an opaque origin');
    const said = t.problems.filter((x) => /no origin/.test(x.text));
    assert.equal(said.length, 1, 'one console.warn says why the tag did not start');
    assert.equal(said[0].kind, 'console.warning');

    // 4. The API before init() (init once the app has its settings): the event keeps the time
    // of the call and its properties as they were then.
    servePage(SHOP, '/late-init', page({ title: 'Late init', head: `<script src="${GW}/sluice.js"></script>` }));
    const pl = await t.open(`${SHOP}/late-init`);
    const call = await pl.evaluate(async ({ key, gw }) => {
        const o = { step: 1 };
        const at = new Date().toISOString();
        sluice.track('Before Init', o);
        o.step = 2;
        await new Promise((r) => setTimeout(r, 1500));
        sluice.init({ writeKey: key, endpoint: gw, autoPage: false, flushInterval: 100 });
        return { at, aid: sluice.anonymousId() };
    }, { key: env.keys.web, gw: GW });
    const [early] = await eventsWhere('the call before init', (e) => e.event === 'Before Init' && e.anonymousId === call.aid);
    assert.deepEqual(early.event.properties, { step: 1 });
    const lag = Date.parse(early.event.timestamp) - Date.parse(call.at);
    assert.ok(lag >= 0 && lag < 500, `timestamp ${early.event.timestamp} is the call's (${call.at}), not init's`);
}
