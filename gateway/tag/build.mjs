// Builds the tag from src/ (esbuild bundles the modules, terser minifies) into dist/:
//   dist/sluice.min.js   the served tag (src/tag.js, an IIFE): embedded into sluice-gateway and
//                        sluicectl; at most BUDGET bytes gzipped
//   dist/sluice.esm.js   the npm package's ES module (src/index.js), for bundlers
//   dist/sluice.umd.cjs  the npm package's UMD (src/index.js): require(), AMD, or a global
//   dist/previous/       served tags of earlier releases, which the gateway keeps serving at their
//                        versioned URLs (/sluice.<hash>.js) so SRI-pinned pages survive upgrades
//
//   node build.mjs           write dist/ and print the sizes. When package.json's version differs
//                            from the version of the current dist/sluice.min.js (a release), that
//                            build first moves to dist/previous/sluice-<version>.min.js; the
//                            newest KEEP earlier releases are kept there, older ones removed.
//   node build.mjs --check   build in memory and fail unless dist/ is exactly that build, the
//                            served tag is within the budget and dist/previous/ holds only
//                            earlier releases, at most KEEP (a ctest runs this)
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';

const BUDGET = 5 * 1024; // gzipped bytes of the served tag
const KEEP = 3; // earlier releases served beside the current one
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const previous = join(dist, 'previous');
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const check = process.argv.includes('--check');

const BANNER = `/*! sluice.js ${version} | first-party event tag */`;
const bannerVersion = (code) => (/^\/\*! sluice\.js (\S+) \|/.exec(code) || [])[1];

const bundle = async (entry, options) => {
    const r = await build({
        entryPoints: [join(here, 'src', entry)],
        absWorkingDir: here, // the output names the modules by their path from here
        bundle: true,
        write: false,
        target: 'es2020',
        platform: 'browser',
        charset: 'utf8',
        legalComments: 'none',
        define: { __VERSION__: JSON.stringify(version) },
        logLevel: 'error',
        ...options,
    });
    return r.outputFiles[0].text;
};
const min = async (code) => {
    const out = await minify(code, { ecma: 2020, compress: { passes: 3 }, mangle: true, format: { comments: /^!/ } });
    return out.code + '\n';
};

const served = await min(BANNER + '\n' + (await bundle('tag.js', { format: 'iife' })));
const esm = BANNER + '\n' + (await bundle('index.js', { format: 'esm' }));
// UMD: CommonJS gets the module's exports ({sluice, default}); a plain <script> gets the global
// `sluice`, replaying the calls a loader snippet queued in it.
const iife = await bundle('index.js', { format: 'iife', globalName: 'm' });
const umd = await min(`${BANNER}
(function (root, factory) {
    if (typeof module == 'object' && module.exports) module.exports = factory();
    else if (typeof define == 'function' && define.amd) define([], factory);
    else {
        var pre = root.sluice, api = factory().sluice;
        root.sluice = api;
        if (Array.isArray(pre)) pre.forEach(function (c) { api.push(c); });
    }
})(typeof self != 'undefined' ? self : this, function () {
${iife}
return m;
});`);

const outputs = { 'sluice.min.js': served, 'sluice.esm.js': esm, 'sluice.umd.cjs': umd };
const gz = gzipSync(served, { level: 9 }).length;
const summary = `sluice.js ${version}: ${Buffer.byteLength(served)} bytes minified, ${gz} bytes gzipped (budget ${BUDGET}); package: ${Buffer.byteLength(esm)} bytes ESM, ${Buffer.byteLength(umd)} bytes UMD`;

// Versions compared field by field, numbers as numbers ("0.10.0" after "0.9.1").
const cmp = (a, b) => {
    const x = a.split(/[.+-]/), y = b.split(/[.+-]/);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
        const p = x[i] ?? '', q = y[i] ?? '';
        const d = /^\d+$/.test(p) && /^\d+$/.test(q) ? p - q : p < q ? -1 : p > q ? 1 : 0;
        if (d) return d;
    }
    return 0;
};
const kept = () =>
    (existsSync(previous) ? readdirSync(previous) : [])
        .map((f) => ({ f, v: (/^sluice-(.+)\.min\.js$/.exec(f) || [])[1] }))
        .sort((a, b) => cmp(b.v || '', a.v || ''));

const errors = [];
if (gz > BUDGET) errors.push(`the served tag is over the budget by ${gz - BUDGET} bytes`);

if (check) {
    for (const [name, code] of Object.entries(outputs)) {
        let have = null;
        try {
            have = readFileSync(join(dist, name), 'utf8');
        } catch (e) {}
        if (have !== code) errors.push(`dist/${name} is not the build of src/: run \`npm run build\` in gateway/tag and commit dist/`);
    }
    const prev = kept();
    for (const { f, v } of prev) {
        const got = bannerVersion(readFileSync(join(previous, f), 'utf8'));
        if (!v || got !== v) errors.push(`dist/previous/${f}: not a served tag named sluice-<its version>.min.js`);
        else if (v === version) errors.push(`dist/previous/${f}: the current version cannot be a previous one`);
    }
    if (prev.length > KEEP) errors.push(`dist/previous/ holds ${prev.length} builds, at most ${KEEP}`);
} else if (!errors.length) {
    // A release: the build being replaced keeps being served, from dist/previous/.
    const old = existsSync(join(dist, 'sluice.min.js')) ? readFileSync(join(dist, 'sluice.min.js'), 'utf8') : null;
    const ov = old && bannerVersion(old);
    if (ov && ov !== version) {
        mkdirSync(previous, { recursive: true });
        const keep = join(previous, `sluice-${ov}.min.js`);
        if (existsSync(keep) && readFileSync(keep, 'utf8') !== old) {
            console.error(`dist/previous/sluice-${ov}.min.js exists with other bytes: a served version never changes`);
            process.exit(1);
        }
        writeFileSync(keep, old);
        console.log(`sluice.js ${ov} kept in dist/previous/ (still served at its versioned URL)`);
    }
    for (const { f } of kept().slice(KEEP)) {
        rmSync(join(previous, f));
        console.log(`dist/previous/${f} removed (only the newest ${KEEP} earlier releases are kept)`);
    }
    for (const [name, code] of Object.entries(outputs)) writeFileSync(join(dist, name), code);
}
for (const e of errors) console.error(e);
if (!errors.length) console.log(summary);
process.exit(errors.length ? 1 : 0);
