// How the build keeps earlier releases (build.mjs, dist/previous/) and how the C build embeds them
// (embed.cmake), on a copy of gateway/tag in a temporary directory: a release (a new version in
// package.json) moves the replaced served tag, byte for byte, to dist/previous/; rebuilding
// within a version does not; only the newest KEEP (3) earlier releases stay, versions compared
// as numbers; `--check` refuses a previous/ that is wrong; embed.cmake names each kept build by
// the SHA-256 of its bytes, the hash of its versioned URL. Run by ctest (browser.tag_release).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const tag = join(dirname(fileURLToPath(import.meta.url)), '..');
let dir;

const read = (f) => readFileSync(join(dir, f), 'utf8');
const build = (...args) => spawnSync(process.execPath, ['build.mjs', ...args], { cwd: dir, encoding: 'utf8' });
const previous = () => readdirSync(join(dir, 'dist/previous')).sort();
// A release: a change to the source and a new version.
const release = (version, change) => {
    const pkg = JSON.parse(read('package.json'));
    pkg.version = version;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    const core = read('src/core.js');
    writeFileSync(join(dir, 'src/core.js'), core.replace(/const STALE_MS = \d+;/, `const STALE_MS = ${change};`));
    const r = build();
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
};

before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-tag-release-'));
    for (const f of ['build.mjs', 'package.json', 'src', 'dist', 'embed.cmake']) cpSync(join(tag, f), join(dir, f), { recursive: true });
    symlinkSync(join(tag, 'node_modules'), join(dir, 'node_modules'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the committed dist/ passes --check', () => {
    const r = build('--check');
    assert.equal(r.status, 0, r.stderr);
});

test('a release keeps the replaced served tag in dist/previous/, byte for byte', () => {
    const old = read('dist/sluice.min.js');
    const oldVersion = JSON.parse(read('package.json')).version;
    const kept = previous();
    const out = release('9.0.0', 300001);
    assert.match(out, new RegExp(`sluice\\.js ${oldVersion.replace(/\./g, '\\.')} kept in dist/previous/`));
    assert.equal(read(`dist/previous/sluice-${oldVersion}.min.js`), old);
    assert.ok(read('dist/sluice.min.js').startsWith('/*! sluice.js 9.0.0 |'));
    assert.notEqual(read('dist/sluice.min.js'), old);
    assert.deepEqual(previous(), [...kept, `sluice-${oldVersion}.min.js`].sort().slice(-3).sort());
    assert.equal(build('--check').status, 0);
});

test('rebuilding within a version keeps nothing more', () => {
    const kept = previous();
    release('9.0.0', 300002);
    assert.deepEqual(previous(), kept);
    assert.ok(read('dist/sluice.min.js').includes('300002'));
});

test('only the newest three earlier releases stay, 9.10.0 after 9.9.0', () => {
    release('9.9.0', 300003);
    release('9.10.0', 300004);
    release('10.0.0', 300005);
    assert.deepEqual(previous(), ['sluice-9.0.0.min.js', 'sluice-9.10.0.min.js', 'sluice-9.9.0.min.js']);
    assert.ok(read('dist/previous/sluice-9.10.0.min.js').includes('300004'));
    assert.equal(build('--check').status, 0);
});

test('--check refuses a wrong dist/previous/', () => {
    const cur = read('dist/sluice.min.js');
    writeFileSync(join(dir, 'dist/previous/sluice-10.0.0.min.js'), cur);
    let r = build('--check');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /the current version cannot be a previous one/);
    assert.match(r.stderr, /holds 4 builds, at most 3/);
    rmSync(join(dir, 'dist/previous/sluice-10.0.0.min.js'));
    writeFileSync(join(dir, 'dist/previous/sluice-8.0.0.min.js'), '/*! sluice.js 7.0.0 | */\n');
    r = build('--check');
    assert.match(r.stderr, /sluice-8\.0\.0\.min\.js: not a served tag named sluice-<its version>/);
    rmSync(join(dir, 'dist/previous/sluice-8.0.0.min.js'));
    assert.equal(build('--check').status, 0);
});

test('a kept version never changes its bytes', () => {
    // 9.10.0 is kept; going back to it and releasing again would replace its bytes: refused.
    writeFileSync(join(dir, 'dist/sluice.min.js'), read('dist/sluice.min.js').replace('/*! sluice.js 10.0.0 |', '/*! sluice.js 9.10.0 |'));
    const pkg = JSON.parse(read('package.json'));
    pkg.version = '11.0.0';
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    const r = build();
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /sluice-9\.10\.0\.min\.js exists with other bytes/);
});

test('embed.cmake names every kept build by the hash of its bytes', () => {
    const files = previous().map((f) => join(dir, 'dist/previous', f));
    const out = join(dir, 'sluice_js.c');
    execFileSync('cmake', [`-DIN=${join(dir, 'dist/sluice.min.js')}`, `-DPREVIOUS=${files.join('|')}`, `-DOUT=${out}`, '-P', join(dir, 'embed.cmake')]);
    const c = readFileSync(out, 'utf8');
    assert.match(c, new RegExp(`sluice_tag_builds_len = ${files.length + 1};`));
    for (const f of files) {
        const bytes = readFileSync(f);
        const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
        const version = /sluice-([^/]+)\.min\.js$/.exec(f)[1];
        assert.ok(c.includes(`${bytes.length}, "${version}", "${hash}"}`), `${version} at sluice.${hash}.js`);
    }
});
