// The npm package as a web team uses it: `npm pack` in gateway/tag makes the tarball (in the build
// directory), which is installed into a scratch project; a TypeScript usage file of the whole API
// is type-checked with tsc (strict, for bundlers and for Node's ESM resolution; lines marked
// @ts-expect-error must be errors, so the types are not `any`), bundled with esbuild, and run in
// Chromium against the gateway: every call arrives in Kafka. The UMD build runs as a plain
// <script> (replaying a loader snippet) and under require(); the ES module imports in Node
// (server-side rendering) and does nothing there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { GW, SHOP, VERSION, assert, env, eventsWhere, page, servePage } from '../lib.mjs';

const TSC = join(env.sourceDir, 'tests/browser/node_modules/typescript/bin/tsc');

const USAGE = `import sluice, { sluice as named, type Call, type Options, type Stats } from '@sluice/tag';

declare global {
    interface Window {
        __TEST__: { endpoint: string; writeKey: string };
        __RESULT__: unknown;
    }
}

const t = window.__TEST__;
const options: Options = {
    writeKey: t.writeKey,
    endpoint: t.endpoint,
    flushInterval: 100,
    autoPage: 'history',
    categories: ['analytics'],
    tcf: false,
};
sluice.init(options);
sluice.page('Home', { section: 'front' });
sluice.identify('user-ts', { plan: 'pro' });
sluice.track('Order Completed', { order_id: 'o-ts-1', revenue: 42.5, currency: 'EUR' });
sluice.group('acme-ts', { seats: 3 });
sluice.identify({ newsletter: true });
sluice.alias('user-ts-2');
sluice.consent({ categories: ['analytics', 'marketing'] });
const call: Call = ['track', 'Pushed', { via: 'push' }];
named.push(call);
const id: string | undefined = sluice.anonymousId();
const version: string = sluice.VERSION;
const done: Promise<void> = sluice.flush();
done.then(() => {
    const s: Stats = sluice.stats();
    window.__RESULT__ = { id, version, same: sluice === named, queued: s.queued };
});

// Never called: each line must be a type error.
export function typeErrors(): void {
    // @ts-expect-error an event name is required
    sluice.track();
    // @ts-expect-error properties are an object
    sluice.track('Order Completed', 42);
    // @ts-expect-error the write key is required
    sluice.init({ endpoint: 'https://data.shop.example' });
    // @ts-expect-error autoPage is true, false or 'history'
    sluice.init({ writeKey: 'k', autoPage: 'hash' });
    // @ts-expect-error Consent Mode has four signals
    sluice.init({ writeKey: 'k', consentMode: { analytics: ['analytics_store'] } });
    // @ts-expect-error TCF purposes are numbers
    sluice.init({ writeKey: 'k', tcf: { analytics: ['1'] } });
    // @ts-expect-error categories are strings
    sluice.consent({ categories: [1] });
    // @ts-expect-error there is no such method
    sluice.screen('Home');
    // @ts-expect-error anonymousId may be undefined
    const s: string = sluice.anonymousId();
    // @ts-expect-error no such call
    sluice.push(['screen', 'Home']);
    void s;
}
`;

// window.sluice typed by @sluice/tag/global, for pages that load the served tag.
const GLOBAL = `/// <reference types="@sluice/tag/global" />
export function fromTheServedTag(): void {
    const s = window.sluice;
    if (Array.isArray(s)) s.push(['track', 'Queued', { n: 1 }]);
    else s.track('Direct', { n: 2 });
    // @ts-expect-error a call is [method, ...arguments]
    if (Array.isArray(s)) s.push('track');
}
`;

const tsconfig = (module, resolution) => ({
    compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2020',
        module,
        moduleResolution: resolution,
        lib: ['es2020', 'dom'],
        types: [],
        skipLibCheck: false,
        isolatedModules: true,
    },
    files: ['app.ts', 'global.ts'],
});

export default async function (t) {
    // 1. npm pack, as `make test` runs it.
    const out = join(env.buildDir, 'tag-package');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const tag = join(env.sourceDir, 'gateway/tag');
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: tag, encoding: 'utf8' }));
    const tgz = join(out, packed.filename);
    assert.ok(existsSync(tgz), `npm pack wrote ${tgz}`);
    assert.equal(packed.name, '@sluice/tag');
    assert.equal(packed.version, VERSION);
    assert.deepEqual(
        packed.files.map((f) => f.path).sort(),
        ['README.md', 'dist/sluice.esm.js', 'dist/sluice.min.js', 'dist/sluice.umd.cjs', 'global.d.ts', 'index.d.ts', 'package.json'],
        'the tarball holds the builds, the types and nothing else'
    );
    console.log(`npm pack: ${tgz}, ${packed.size} bytes`);

    // 2. A scratch project installs it (a local tarball: no registry needed).
    const app = join(out, 'scratch');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tgz], { cwd: app, stdio: 'inherit' });
    const installed = join(app, 'node_modules/@sluice/tag');
    assert.equal(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version, VERSION);

    // 3. tsc: the usage file type-checks, for bundlers and for Node's own resolution.
    writeFileSync(join(app, 'app.ts'), USAGE);
    writeFileSync(join(app, 'global.ts'), GLOBAL);
    for (const [module, resolution] of [
        ['esnext', 'bundler'],
        ['nodenext', 'nodenext'],
    ]) {
        const cfg = `tsconfig.${resolution}.json`;
        writeFileSync(join(app, cfg), JSON.stringify(tsconfig(module, resolution), null, 2));
        try {
            execFileSync(process.execPath, [TSC, '-p', cfg], { cwd: app, encoding: 'utf8' });
        } catch (e) {
            throw new Error(`tsc -p ${cfg} failed:\n${e.stdout}${e.stderr}`);
        }
    }
    // The check is real: a wrong call is refused.
    writeFileSync(join(app, 'wrong.ts'), `import sluice from '@sluice/tag';\nsluice.track(42);\n`);
    writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ ...tsconfig('esnext', 'bundler'), files: ['wrong.ts'] }));
    let refused = '';
    try {
        execFileSync(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], { cwd: app, encoding: 'utf8' });
    } catch (e) {
        refused = e.stdout;
    }
    assert.match(refused, /wrong\.ts\(2,14\): error TS2345/, 'tsc refuses a number as the event name');

    // 4. esbuild bundles the app (the package's ES module, resolved by its exports).
    const bundled = await build({
        absWorkingDir: app,
        entryPoints: ['app.ts'],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        logLevel: 'error',
        metafile: true,
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    assert.ok(inputs.includes('node_modules/@sluice/tag/dist/sluice.esm.js'), `the bundle uses the ES module: ${inputs.join(', ')}`);
    const bundle = bundled.outputFiles[0].text;

    // 5. The bundle in Chromium, against the gateway.
    const test = `<script>window.__TEST__ = ${JSON.stringify({ endpoint: GW, writeKey: env.keys.web })};</script>`;
    servePage(SHOP, '/bundled', page({ title: 'Bundled', head: test, body: `<script>${bundle}</script>` }));
    const c = await t.context();
    const p = await c.newPage();
    await p.goto(`${SHOP}/bundled`);
    const result = await p.waitForFunction(() => window.__RESULT__).then((h) => h.jsonValue());
    assert.equal(result.version, VERSION);
    assert.equal(result.same, true, 'the default and the named export are one tag');
    const aid = result.id;
    const got = await eventsWhere('the bundled app\'s calls', (e) => e.anonymousId === aid, 8);
    const kinds = got.map((m) => m.event.type + (m.event.event ? ':' + m.event.event : m.event.name ? ':' + m.event.name : '')).sort();
    assert.deepEqual(kinds, ['alias', 'group', 'identify', 'identify', 'page', 'page:Home', 'track:Order Completed', 'track:Pushed']);
    const order = got.find((m) => m.event.event === 'Order Completed').event;
    assert.deepEqual(order.properties, { order_id: 'o-ts-1', revenue: 42.5, currency: 'EUR' });
    assert.equal(order.userId, 'user-ts');
    assert.deepEqual(order.context.library, { name: 'sluice.js', version: VERSION });
    assert.deepEqual(got.find((m) => m.event.event === 'Pushed').event.context.consent.categories, ['analytics', 'marketing']);
    assert.equal(await p.evaluate(() => typeof window.sluice), 'undefined', 'the package sets no global');

    // 6. The UMD as a plain <script>: window.sluice, with a loader snippet's calls replayed.
    const umd = readFileSync(join(installed, 'dist/sluice.umd.cjs'), 'utf8');
    const snippet = `<script>window.sluice = [['init', ${JSON.stringify({ writeKey: env.keys.web, endpoint: GW, autoPage: false, flushInterval: 100 })}], ['track', 'UMD Loaded', { n: 1 }]];</script>`;
    servePage(SHOP, '/umd', page({ title: 'UMD', head: snippet + `<script>${umd}</script>` }));
    const pu = await c.newPage();
    await pu.goto(`${SHOP}/umd`);
    assert.equal(await pu.evaluate(() => window.sluice.VERSION), VERSION);
    const uaid = await pu.evaluate(() => window.sluice.anonymousId());
    const [umdEvent] = await eventsWhere('the UMD snippet\'s track', (e) => e.event === 'UMD Loaded' && e.anonymousId === uaid);
    assert.deepEqual(umdEvent.event.properties, { n: 1 });

    // 7. In Node: require() gets the UMD, import the ES module; outside a browser both do nothing.
    const node = (code, type) =>
        execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], { cwd: app, encoding: 'utf8' }).trim();
    assert.equal(
        node(`const m = require('@sluice/tag'); m.sluice.init({writeKey: 'k', endpoint: 'https://x'}); m.sluice.track('x'); console.log([m.sluice.VERSION, m.default === m.sluice, m.sluice.anonymousId()].join())`, 'commonjs'),
        `${VERSION},true,`
    );
    assert.equal(
        node(`import sluice, { sluice as s } from '@sluice/tag'; sluice.init({writeKey: 'k', endpoint: 'https://x'}); sluice.page(); await sluice.flush(); console.log([sluice.VERSION, s === sluice, JSON.stringify(sluice.stats())].join(' '))`, 'module'),
        `${VERSION} true {"queued":0,"held":0,"sent":0,"invalid":0,"overflow":0,"retries":0,"denied":0}`
    );
}
