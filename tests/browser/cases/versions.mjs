// Versioned tag URLs in Chromium: the line `sluicectl tag sri` prints loads the current build from
// /sluice.<hash>.js with SRI; each earlier release kept in gateway/tag/dist/previous/ (the tag
// has changed since, so there is at least one) still loads from its own old versioned URL with
// its own SRI hash, runs as that version and delivers events. The versioned URLs are cached
// for a year (immutable), /sluice.js for five minutes. The Content-Security-Policy docs/tag.md
// gives (script-src by SRI hash or by origin, connect-src the gateway) lets the tag work.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GW, SHOP, VERSION, assert, env, eventsWhere, page, servePage } from '../lib.mjs';

const sri = (b) => 'sha384-' + createHash('sha384').update(b).digest('base64');
const short = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

export default async function (t) {
    const out = execFileSync(`${env.buildDir}/tools/sluicectl`, ['tag', 'sri', '--src', `${GW}/sluice.js`, '--write-key', env.keys.web], { encoding: 'utf8' });
    const [hash, script] = out.trim().split('\n');
    const current = readFileSync(join(env.sourceDir, 'gateway/tag/dist/sluice.min.js'));
    assert.equal(hash, sri(current));
    const src = `${GW}/sluice.${short(current)}.js`;
    assert.ok(script.startsWith(`<script async src="${src}" integrity="${hash}" crossorigin="anonymous"`), script);

    const dir = join(env.sourceDir, 'gateway/tag/dist/previous');
    const previous = readdirSync(dir)
        .filter((f) => /^sluice-.+\.min\.js$/.test(f))
        .map((f) => {
            const bytes = readFileSync(join(dir, f));
            return { version: /^sluice-(.+)\.min\.js$/.exec(f)[1], bytes, src: `${GW}/sluice.${short(bytes)}.js` };
        });
    assert.ok(previous.length >= 1, 'at least one earlier release is kept');

    const builds = [{ version: VERSION, src, line: script }, ...previous.map((b) => ({ ...b, line: `<script async src="${b.src}" integrity="${sri(b.bytes)}" crossorigin="anonymous" data-write-key="${env.keys.web}"></script>` }))];
    const c = await t.context();
    for (const b of builds) {
        const path = `/v-${b.version}`;
        servePage(SHOP, path, page({ title: `Tag ${b.version}`, head: b.line }));
        const p = await c.newPage();
        const answers = [];
        p.on('response', (r) => r.url() === b.src && answers.push(r));
        await p.goto(`${SHOP}${path}`);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        assert.equal(await p.evaluate(() => sluice.VERSION), b.version, `${b.src} runs ${b.version}`);
        assert.equal(answers.length, 1);
        assert.equal(answers[0].status(), 200);
        assert.equal(answers[0].headers()['cache-control'], 'public, max-age=31536000, immutable');
        const aid = await p.evaluate(() => sluice.anonymousId());
        await p.evaluate(() => sluice.track('Versioned', { n: 1 }));
        const [e] = await eventsWhere(`the event of tag ${b.version}`, (x) => x.event === 'Versioned' && x.context.library.version === b.version && x.anonymousId === aid);
        assert.deepEqual(e.event.properties, { n: 1 });
        await p.close();
    }

    // The Content-Security-Policy of docs/tag.md: the pinned build's hash, or the gateway's
    // origin, in script-src, and the gateway in connect-src. (A policy without them blocks the
    // tag: the policy is enforced.)
    const csp = (policy) => `<meta http-equiv="Content-Security-Policy" content="${policy}">`;
    const gwOrigin = new URL(GW).origin;
    const policies = [
        [`script-src '${hash}'; connect-src ${gwOrigin}`, script],
        [`script-src 'self' ${gwOrigin}; connect-src 'self' ${gwOrigin}`, `<script src="${GW}/sluice.js" data-write-key="${env.keys.web}"></script>`],
    ];
    for (const [i, [policy, line]] of policies.entries()) {
        servePage(SHOP, `/csp-${i}`, page({ title: `CSP ${i}`, head: csp(policy) + line }));
        const pc = await t.open(`${SHOP}/csp-${i}`, c);
        const aid = await pc.evaluate(() => sluice.anonymousId());
        await pc.evaluate((n) => sluice.track('Under CSP', { n }), i);
        const [e] = await eventsWhere(`the event under CSP ${i}`, (x) => x.event === 'Under CSP' && x.properties.n === i && x.anonymousId === aid);
        assert.equal(e.event.context.library.version, VERSION);
        await pc.close();
    }
    t.allowConsole(/(Refused to load|Loading) the script .* violates the following Content Security Policy/);
    servePage(SHOP, '/csp-blocked', page({ title: 'CSP blocked', head: csp("script-src 'self'") + script }));
    const pb = await c.newPage();
    await pb.goto(`${SHOP}/csp-blocked`);
    await pb.waitForLoadState('load');
    assert.equal(await pb.evaluate(() => typeof window.sluice), 'undefined', 'a policy without the tag blocks it');

    // The unversioned URL: the current build, briefly cached. (Fetched from a page: a document
    // of the script would make Chromium ask the gateway for a favicon.)
    servePage(SHOP, '/fetch', page({ title: 'Fetch' }));
    const p = await c.newPage();
    await p.goto(`${SHOP}/fetch`);
    const [cache, text] = await p.evaluate((u) => fetch(u).then(async (r) => [r.headers.get('cache-control'), await r.text()]), `${GW}/sluice.js`);
    assert.equal(cache, 'public, max-age=300');
    assert.equal(text, current.toString('utf8'));
}
