// The live page of sluice-gateway's metrics listener (gateway/liveview.c, docs/privacy.md "Live
// view"): polls GET /live/events with the bearer token and shows the envelopes the gateway
// produced lately, per source, with what the data layer did marked. Event values are attacker
// controlled (any visitor can send any string), so everything is written as text nodes, never as
// HTML, and the page's Content-Security-Policy allows no inline script.
'use strict';

(function () {
    const POLL_MS = 200;
    const KEEP = 32; // events shown per source (the gateway keeps as many per source and thread)
    const TOKEN_KEY = 'sluice-live-token';

    const $ = (id) => document.getElementById(id);
    const el = (tag, cls, text) => {
        const e = document.createElement(tag);
        if (cls) e.className = cls;
        if (text !== undefined) e.textContent = text;
        return e;
    };

    let token = null;
    let after = 0;
    let paused = false;
    let timer = null;
    let generation = 0; // bumps when the filters change, so a late answer is ignored
    let shown = 0;
    let lastPoll = 0;
    const sections = new Map(); // "org/source" -> element

    // ------------------------------------------------------------------ token and filters

    function takeToken() {
        const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
        if (m) {
            sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
            // Out of the address bar and the history.
            history.replaceState(null, '', location.pathname + location.search);
        }
        token = sessionStorage.getItem(TOKEN_KEY);
    }

    function showLogin(why) {
        $('login').hidden = false;
        $('login-why').textContent = why || '';
        setStatus('needs the bearer token (SLUICE_LIVE_TOKEN)', true);
    }

    function filters() {
        return { org: $('org').value.trim(), source: $('source').value.trim() };
    }

    function restart() {
        generation++;
        after = 0;
        shown = 0;
        sections.clear();
        $('sources').replaceChildren();
        const f = filters();
        const q = new URLSearchParams();
        if (f.org) q.set('org', f.org);
        if (f.source) q.set('source', f.source);
        history.replaceState(null, '', location.pathname + (q.toString() ? '?' + q : ''));
        schedule(0);
    }

    function setStatus(text, bad) {
        const s = $('status');
        s.textContent = text;
        s.classList.toggle('bad', !!bad);
    }

    // ------------------------------------------------------------------ polling

    function schedule(ms) {
        clearTimeout(timer);
        if (!paused && token) timer = setTimeout(poll, ms);
    }

    async function poll() {
        const gen = generation;
        const f = filters();
        const q = new URLSearchParams({ after: String(after) });
        if (f.org) q.set('org', f.org);
        if (f.source) q.set('source', f.source);
        let answer;
        try {
            const r = await fetch('/live/events?' + q, {
                headers: { Authorization: 'Bearer ' + token },
                cache: 'no-store',
                credentials: 'omit',
            });
            if (r.status === 401) {
                sessionStorage.removeItem(TOKEN_KEY);
                token = null;
                showLogin('the gateway refused that token');
                return;
            }
            if (!r.ok) throw new Error('HTTP ' + r.status);
            answer = await r.json();
        } catch (e) {
            setStatus('gateway not answering (' + e.message + '); retrying', true);
            schedule(1000);
            return;
        }
        if (gen !== generation) return;
        lastPoll = Date.now();
        for (const ev of answer.events) show(ev);
        after = answer.next;
        setStatus('following ' + (f.org || 'every org') + (f.source ? ' / ' + f.source : '') + ' · ' + shown + ' events shown');
        schedule(POLL_MS);
    }

    // ------------------------------------------------------------------ rendering

    // A rule path ("properties.items[*].email") as a test on concrete paths ("properties.items[2].email").
    function matcher(paths) {
        const res = (paths || []).map(
            (p) => new RegExp('^' + p.replace(/[.+?^${}()|\\]/g, '\\$&').replace(/\[\*\]/g, '\\[\\d+\\]') + '$')
        );
        return (path) => res.some((re) => re.test(path));
    }

    function section(org, source) {
        const key = org + '/' + source;
        let s = sections.get(key);
        if (!s) {
            s = el('section', 'source');
            s.dataset.org = org;
            s.dataset.source = source;
            s.append(el('h2', null, key), el('div', 'events'));
            sections.set(key, s);
            const all = [...sections.keys()].sort();
            const next = sections.get(all[all.indexOf(key) + 1]);
            $('sources').insertBefore(s, next || null);
        }
        return s.querySelector('.events');
    }

    // Appends the JSON text of v to parent, marking the leaves the data layer hashed or masked.
    function renderJson(parent, v, path, depth, marks) {
        const pad = '  '.repeat(depth);
        if (Array.isArray(v) || (v !== null && typeof v === 'object')) {
            const arr = Array.isArray(v);
            const entries = arr ? v.map((x, i) => [i, x]) : Object.entries(v);
            if (entries.length === 0) {
                parent.append(arr ? '[]' : '{}');
                return;
            }
            parent.append(arr ? '[\n' : '{\n');
            entries.forEach(([k, x], i) => {
                parent.append(pad + '  ');
                if (!arr) parent.append(el('span', 'k', JSON.stringify(k)), ': ');
                const p = arr ? path + '[' + k + ']' : path ? path + '.' + k : k;
                renderJson(parent, x, p, depth + 1, marks);
                parent.append(i < entries.length - 1 ? ',\n' : '\n');
            });
            parent.append(pad + (arr ? ']' : '}'));
            return;
        }
        const leaf = el('span', typeof v === 'string' ? 's' : 'n', JSON.stringify(v));
        const kind = marks.hashed(path) ? 'hashed' : marks.masked(path) ? 'masked' : null;
        if (kind) {
            const w = el('span', 'hl ' + kind);
            w.dataset.path = path;
            w.title = kind + ' by the data layer';
            w.append(leaf);
            parent.append(w);
        } else {
            parent.append(leaf);
        }
    }

    // An item of the privacy record as a chip's text: a path as it is; a finding of the PII guard
    // ({path, matcher, action}) as "path: matcher, action", not "[object Object]".
    function chipText(p) {
        if (typeof p === 'string') return p;
        if (p !== null && typeof p === 'object' && typeof p.path === 'string')
            return p.path + ': ' + [p.matcher, p.action].filter((x) => typeof x === 'string').join(', ');
        return JSON.stringify(p);
    }

    function show(item) {
        const list = section(item.org, item.source);
        const card = el('article', 'event fresh');
        card.dataset.id = String(item.id);
        card.dataset.shownAt = String(Date.now());
        const env = item.envelope;
        const event = env && env.event;
        const head = el('div', 'head');
        if (event) {
            card.dataset.messageId = String(event.messageId || '');
            head.append(el('span', 'type', String(event.type || '?')));
            const name = event.type === 'track' ? event.event : event.name;
            if (name !== undefined) head.append(el('span', 'name', String(name)));
            head.append(el('span', 'mid', String(event.messageId || '')));
        }
        head.append(el('span', 'when', item.at));
        card.append(head);
        if (!env) {
            card.append(el('p', 'big', 'an envelope of ' + item.bytes + ' bytes: too long for the live view'));
        } else {
            const privacy = env.privacy || {};
            const chips = el('div', 'chips');
            // Every list of the record (hashed, masked, dropped, the PII guard's detected, and any
            // the gateway adds later), then its other members (consent: stripped).
            for (const [kind, v] of Object.entries(privacy)) {
                const cls = /^[a-z]+$/.test(kind) ? kind : 'other';
                if (Array.isArray(v)) for (const p of v) chips.append(el('span', 'chip ' + cls, kind + ' ' + chipText(p)));
                else chips.append(el('span', 'chip ' + cls, kind + ' ' + chipText(v)));
            }
            card.append(chips);
            const pre = el('pre');
            renderJson(pre, event, '', 0, { hashed: matcher(privacy.hashed), masked: matcher(privacy.masked) });
            if (env.hashes) {
                pre.append('\n"hashes": ');
                renderJson(pre, env.hashes, '\u0000', 0, { hashed: () => false, masked: () => false });
            }
            card.append(pre);
        }
        list.prepend(card);
        while (list.children.length > KEEP) list.lastChild.remove();
        shown++;
    }

    // ------------------------------------------------------------------ start

    document.addEventListener('DOMContentLoaded', () => {
        const q = new URLSearchParams(location.search);
        $('org').value = q.get('org') || '';
        $('source').value = q.get('source') || '';
        $('filters').addEventListener('change', restart);
        $('filters').addEventListener('submit', (e) => {
            e.preventDefault();
            restart();
        });
        $('pause').addEventListener('click', () => {
            paused = !paused;
            $('pause').textContent = paused ? 'resume' : 'pause';
            if (paused) setStatus('paused');
            else schedule(0);
        });
        $('login').addEventListener('submit', (e) => {
            e.preventDefault();
            const t = $('token').value;
            if (!t) return;
            sessionStorage.setItem(TOKEN_KEY, t);
            token = t;
            $('token').value = '';
            $('login').hidden = true;
            schedule(0);
        });
        setInterval(() => {
            if (token && !paused && lastPoll && Date.now() - lastPoll > 5000) setStatus('no answer for 5 s', true);
        }, 1000);
        takeToken();
        if (token) schedule(0);
        else showLogin();
    });
})();
