// What the docs publish about the served tag is true of the builds the gateway serves: a web team
// pastes the versioned URLs and SRI hashes of docs/tag.md and docs/deploy.md into its pages and
// Content-Security-Policy, so each must be a build in dist/ (the current one or one kept in
// dist/previous/), or those pages load no tag at all. Also guards the release rule: a build
// whose behaviour changed under the same version (0.2.3 rebuilt twice after its URL was
// published) makes the published URL of that version a 404. Run by ctest (browser.tag_release).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const tag = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = ['tag.md', 'deploy.md'].map((f) => readFileSync(join(tag, '../../docs', f), 'utf8')).join('\n');
const { version } = JSON.parse(readFileSync(join(tag, 'package.json'), 'utf8'));

const builds = [join(tag, 'dist/sluice.min.js'), ...readdirSync(join(tag, 'dist/previous')).map((f) => join(tag, 'dist/previous', f))].map((f) => {
    const b = readFileSync(f);
    return {
        f,
        version: /^\/\*! sluice\.js (\S+) \|/.exec(b.toString('utf8'))[1],
        hash: createHash('sha256').update(b).digest('hex').slice(0, 16),
        sri: 'sha384-' + createHash('sha384').update(b).digest('base64'),
    };
});
const [current] = builds;

test('every versioned URL in the docs is a build the gateway serves', () => {
    const urls = [...docs.matchAll(/sluice\.([0-9a-f]{16})\.js/g)].map((m) => m[1]);
    assert.ok(urls.length > 0);
    for (const h of urls) assert.ok(builds.some((b) => b.hash === h), `/sluice.${h}.js in the docs is no build in dist/ (a 404 for pages that pinned it)`);
});

test('every SRI hash in the docs is the hash of a served build', () => {
    // Whole hashes (a CSP or integrity attribute is pasted from them) and shortened ones ("sha384-KpCY...").
    for (const [, h, cut] of docs.matchAll(/(sha384-[A-Za-z0-9+/]+={0,2})(\.\.\.)?/g)) {
        const ok = builds.some((b) => (cut ? b.sri.startsWith(h) : b.sri === h));
        assert.ok(ok, `${h}${cut || ''} in the docs is the hash of no build in dist/`);
    }
});

test("the docs' sluicectl tag versions lines name each build with its version", () => {
    for (const [, v, kind, h, sri] of docs.matchAll(/^(\S+)\t(current|previous)\thttps:\S+\/sluice\.([0-9a-f]{16})\.js\t(sha384-\S+?)\.\.\.$/gm)) {
        const b = builds.find((x) => x.hash === h);
        assert.ok(b, `no build ${h}`);
        assert.equal(b.version, v, `/sluice.${h}.js is ${b.version}, the docs say ${v}`);
        assert.equal(kind == 'current', b === current, `${v} is ${kind} in the docs`);
        assert.ok(b.sri.startsWith(sri));
    }
    assert.ok(docs.includes(`${version}\tcurrent\t`), `the docs list ${version} as the current build`);
});
