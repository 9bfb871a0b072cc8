/*
 * The served tag (gateway/tag/dist/sluice.min.js): one global, `sluice`, started by the
 * script's data- attributes or by init(), and the loader snippet's queued calls
 * (`window.sluice = [[method, ...args], ...]`) replayed in order. Events go to the origin the
 * script came from unless `endpoint` says otherwise.
 */
import { D, create } from './core.js';

((w, d) => {
    if (w.sluice && w.sluice.VERSION) return; // loaded twice
    // A data- attribute by the type of the option's default: numbers, true/false (an empty
    // attribute is true; autoPage also takes "history"), lists separated by spaces or commas,
    // and an adapter's mapping as JSON.
    const attr = (v, t) => {
        if (typeof t == 'number') return +v;
        if (typeof t == 'boolean') return v == 'history' ? v : v != 'false';
        if (Array.isArray(t)) return v.split(/[\s,]+/).filter(Boolean);
        if (t !== null) return v;
        if (!/^\s*\{/.test(v)) return v != 'false';
        try {
            return JSON.parse(v);
        } catch (e) {
            // An adapter with no mapping grants nothing: nothing is sent rather than too much.
            console.warn('sluice: a data- attribute is not valid JSON:', v);
            return {};
        }
    };
    try {
        const me = d.currentScript;
        const out = create(w, d, navigator, me && me.src ? new URL(me.src).origin : '');
        const pre = w.sluice;
        w.sluice = out;
        const ds = (me && me.dataset) || {};
        if (ds.writeKey) {
            const o = {};
            for (const k in ds) o[k] = attr(ds[k], D[k]);
            out.init(o);
        }
        // Calls queued by the loader snippet before this file arrived: [method, ...args], each
        // through push, so a malformed one (an object pushed as to a data layer) is skipped
        // instead of stopping the calls after it.
        if (Array.isArray(pre)) for (const c of pre) out.push(c);
    } catch (e) {}
})(window, document);
