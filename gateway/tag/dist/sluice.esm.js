/*! sluice.js 0.2.4 | first-party event tag */
// src/consent.js
var MAPS = {
  tcf: { analytics: [1, 8], marketing: [1, 3, 4, 7] },
  consentMode: { analytics: ["analytics_storage"], marketing: ["ad_storage", "ad_user_data"], personalization: ["ad_personalization"] },
  onetrust: { analytics: ["C0002"], marketing: ["C0004"] },
  cookiebot: { analytics: ["statistics"], marketing: ["marketing"] }
};
var WATCH = {
  // IAB TCF v2.2: __tcfapi('addEventListener') calls back with the TC data now and after each
  // change. sluice is the site's own tool, not a vendor of the Global Vendor List, so the
  // purposes the visitor consented to (purpose.consents) are what count. The CMP's script may
  // come after the tag: look for __tcfapi for 10 s.
  tcf: (w, set, safe) => {
    let n = 0;
    const hook = () => {
      if (typeof w.__tcfapi != "function") return void (n++ < 100 && setTimeout(hook, 100));
      w.__tcfapi(
        "addEventListener",
        2,
        safe((tc, ok) => {
          if (!ok || !tc) return;
          if (tc.gdprApplies === false) return set(() => 1, 1);
          const c = tc.purpose && tc.purpose.consents || {};
          set((p) => c[p] === true, tc.eventStatus == "tcloaded" || tc.eventStatus == "useractioncomplete");
        })
      );
    };
    hook();
  },
  // Google Consent Mode v2: gtag('consent', 'default' | 'update', {...}) commands in the data
  // layer, those already there and those pushed later. A default is no answer yet; an update
  // is. Defaults for a region are skipped (the visitor's region is not known here).
  consentMode: (w, set, safe) => {
    const dl = w.dataLayer = w.dataLayer || [];
    const st = {};
    let decided = 0;
    const see = safe((a) => {
      if (!a || a[0] != "consent" || a[1] != "default" && a[1] != "update" || !a[2] || typeof a[2] != "object" || a[2].region) return;
      Object.assign(st, a[2]);
      if (a[1] == "update") decided = 1;
      set((s) => st[s] == "granted", decided);
    });
    const push = dl.push;
    dl.push = function() {
      const r = push.apply(this, arguments);
      for (const a of arguments) see(a);
      return r;
    };
    for (const a of dl) see(a);
  },
  // OneTrust: OnetrustActiveGroups (",C0001,C0002,") and the OneTrustGroupsUpdated event it
  // fires on load and on each change; answered once its banner was closed.
  onetrust: (w, set, safe) => {
    const read = safe(() => {
      const g = w.OnetrustActiveGroups;
      const ot = w.OneTrust;
      if (typeof g == "string") set((i) => g.split(",").includes(i), ot && ot.IsAlertBoxClosed && ot.IsAlertBoxClosed());
    });
    w.addEventListener("OneTrustGroupsUpdated", read);
    read();
  },
  // Cookiebot: Cookiebot.consent {necessary, preferences, statistics, marketing}, its
  // hasResponse, and the events it fires on window when consent is known or changes.
  cookiebot: (w, set, safe) => {
    const read = safe(() => {
      const cb = w.Cookiebot;
      const c = cb && cb.consent;
      if (c) set((k) => c[k] === true, cb.hasResponse);
    });
    for (const t of ["CookiebotOnConsentReady", "CookiebotOnAccept", "CookiebotOnDecline"]) w.addEventListener(t, read);
    read();
  }
};
var adapters = (w, cfg, consent, dbg) => {
  for (const k in WATCH) {
    const map = cfg[k] === true ? MAPS[k] : cfg[k];
    if (!map || typeof map != "object") continue;
    let last;
    const safe = (f) => function() {
      try {
        return f.apply(this, arguments);
      } catch (e) {
        dbg(k, e);
      }
    };
    const set = (granted, decided) => {
      const c = Object.keys(map).filter((x) => Array.isArray(map[x]) && map[x].length && map[x].every((i) => granted(String(i))));
      if ((decided || c.length) && c.join() !== last) {
        last = c.join();
        consent({ categories: c });
      }
    };
    safe(WATCH[k])(w, set, safe);
  }
};

// src/core.js
var P = "sluice:";
var STALE_MS = 3e5;
var XD_TIMEOUT_MS = 1500;
var BEACON_MAX = 6e4;
var NOOP = () => {
};
var D = {
  writeKey: "",
  endpoint: "",
  prefix: "/v1",
  batchSize: 20,
  flushInterval: 1e3,
  maxQueue: 1e3,
  retryBase: 1e3,
  retryMax: 3e4,
  autoPage: true,
  requireConsent: false,
  categories: [],
  crossDomain: [],
  debug: false,
  tcf: null,
  consentMode: null,
  onetrust: null,
  cookiebot: null
};
var VERSION = "0.2.4";
var arr = (v) => Array.isArray(v) ? v.map(String) : [];
var json = (v) => {
  const A = Array.prototype;
  const t = Object.getOwnPropertyDescriptor(A, "toJSON");
  if (t && t.configurable) delete A.toJSON;
  try {
    return JSON.stringify(v, (k, x) => typeof x == "bigint" ? String(x) : x).replace(/\\(ud[89a-f]..|.)/g, (m) => m.length > 2 ? "\\ufffd" : m);
  } finally {
    if (t && t.configurable) Object.defineProperty(A, "toJSON", t);
  }
};
var bytes = (s) => new TextEncoder().encode(s).length;
var create = (w, d, nav, endpoint) => {
  const loc = w.location;
  const hist = w.history;
  let ls = null;
  try {
    ls = w.localStorage;
  } catch (e) {
  }
  const get = (k) => {
    try {
      return JSON.parse(ls.getItem(P + k));
    } catch (e) {
      return null;
    }
  };
  const put = (k, v) => {
    try {
      v == null ? ls.removeItem(P + k) : ls.setItem(P + k, json(v));
      return 1;
    } catch (e) {
    }
  };
  const uuid = () => {
    try {
      return crypto.randomUUID();
    } catch (e) {
      const b = crypto.getRandomValues(new Uint8Array(16));
      b[6] = b[6] & 15 | 64;
      b[8] = b[8] & 63 | 128;
      const h = [...b].map((x) => (x + 256).toString(16).slice(1)).join("");
      return h.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
    }
  };
  const now = () => Date.now();
  const iso = () => (/* @__PURE__ */ new Date()).toISOString();
  const bare = () => loc.href.split("#")[0];
  let cfg = Object.assign({}, D, { endpoint });
  let on = 0;
  let early = [];
  let at = "";
  let q = [];
  let held = [];
  let cats = null;
  let aid, uid, dft;
  let ref = d.referrer;
  let here;
  let size;
  let cut = 0;
  let busy = 0;
  let inflight = /* @__PURE__ */ new Set();
  let timer = 0;
  let retryAt = 0;
  let attempt = 0;
  let healthy = 1;
  let alive = 1;
  let kept;
  const tab = "q:" + uuid();
  const stats = { sent: 0, invalid: 0, overflow: 0, retries: 0, denied: 0 };
  const dbg = (m, e) => cfg.debug && console.warn("sluice:", m, e || "");
  const allowed = () => !cfg.requireConsent || !!(cats && cats.length);
  const save = () => {
    if (allowed()) kept = put(tab, q.length ? { t: alive ? now() : 0, q } : null);
  };
  const saveIds = () => {
    if (allowed()) {
      put("aid", aid);
      put("uid", uid);
    }
  };
  const url = (p) => cfg.endpoint + cfg.prefix + p;
  const later = (ms) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = 0;
      flush();
    }, ms);
  };
  const schedule = () => {
    if (q.length >= size) flush();
    else if (!timer && q.length) later(cfg.flushInterval);
  };
  const drop = (ids) => {
    q = q.filter((e) => !ids.has(e.messageId));
    save();
  };
  const backoff = (r) => {
    const ra = r && r.headers.get("Retry-After");
    let ms = ra ? isNaN(ra) ? Date.parse(ra) - now() : ra * 1e3 : NaN;
    if (!(ms >= 0)) ms = Math.min(cfg.retryMax, cfg.retryBase * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt++;
    stats.retries++;
    return ms;
  };
  const body = (batch) => json({ batch, sentAt: iso(), writeKey: cfg.writeKey });
  const next = (list) => {
    let batch = list.slice(0, cut || size), b;
    while (b = body(batch), batch.length > 1 && bytes(b) > BEACON_MAX) batch = batch.slice(0, batch.length >> 1);
    return [batch, b];
  };
  const flush = async () => {
    if (busy || !q.length || !allowed()) return;
    if (now() < retryAt) return void (timer || later(retryAt - now()));
    clearTimeout(timer);
    timer = 0;
    busy = 1;
    let r, delay = 0;
    try {
      const [batch, b] = next(q);
      inflight = new Set(batch.map((e) => e.messageId));
      save();
      r = await fetch(url("/batch"), {
        method: "POST",
        body: b,
        keepalive: bytes(b) < BEACON_MAX,
        credentials: "include"
      }).catch((e) => dbg("network", e));
      const s = r ? r.status : 0;
      const j = r && await r.json().catch(NOOP);
      healthy = s > 0 && s < 500 && s != 429;
      if (s >= 200 && s < 300) {
        attempt = 0;
        const bad = j && j.rejected && j.rejected.length || 0;
        stats.invalid += bad;
        stats.sent += batch.length - bad;
        drop(inflight);
        cut = cut * 2 < size ? cut * 2 : 0;
      } else if (!healthy) {
        delay = backoff(r);
      } else if (s == 413 && size > 1) {
        size = Math.ceil(size / 2);
      } else if (s == 400 && batch.length > 1) {
        cut = Math.ceil(batch.length / 2);
      } else {
        dbg("dropped, status " + s);
        stats.invalid += batch.length;
        drop(inflight);
      }
    } catch (e) {
      dbg("flush", e);
    } finally {
      busy = 0;
      inflight = /* @__PURE__ */ new Set();
    }
    if (delay) {
      retryAt = now() + delay;
      later(delay);
    } else if (q.length && r && (r.ok || r.status == 400)) {
      flush();
    } else {
      schedule();
    }
  };
  const beacon = () => {
    if (!healthy || !allowed() || !nav.sendBeacon) return;
    let rest = q.filter((e) => !inflight.has(e.messageId));
    while (rest.length) {
      const [batch, b] = next(rest);
      let ok = 0;
      try {
        ok = bytes(b) <= BEACON_MAX && nav.sendBeacon(url("/batch"), b);
      } catch (e) {
      }
      if (!ok) break;
      stats.sent += batch.length;
      drop(new Set(batch.map((e) => e.messageId)));
      rest = rest.slice(batch.length);
    }
  };
  const push = (e) => {
    q.push(e);
    while (q.length > cfg.maxQueue) {
      q.shift();
      stats.overflow++;
    }
    save();
    schedule();
  };
  const page = () => ({
    url: loc.href,
    path: loc.pathname,
    referrer: ref,
    title: d.title
  });
  const send = (type, fields) => {
    try {
      fields = JSON.parse(json(fields));
    } catch (x) {
      stats.invalid++;
      return dbg("dropped, not JSON", x);
    }
    const e = Object.assign(
      { type, messageId: uuid(), timestamp: at || iso(), anonymousId: aid },
      uid ? { userId: uid } : {},
      fields
    );
    e.context = {
      page: page(),
      library: { name: "sluice.js", version: VERSION },
      locale: nav.language,
      consent: { categories: cats ? cats.slice() : [] }
    };
    if (bytes(body([e])) > BEACON_MAX) {
      stats.invalid++;
      return dbg("dropped, over " + BEACON_MAX + " bytes");
    }
    if (dft) {
      e.context.crossDomainToken = dft;
      dft = null;
    }
    if (allowed()) push(e);
    else if (cats) stats.denied++;
    else {
      held.push(e);
      if (held.length > cfg.maxQueue) {
        held.shift();
        stats.overflow++;
      }
    }
  };
  const props = (p) => p && typeof p == "object" ? p : {};
  const sent = async () => {
    await flush();
    while (busy) await new Promise((res) => setTimeout(res, 20));
  };
  const token = (to) => Promise.race([
    sent().then(
      () => fetch(url("/xd") + "?to=" + encodeURIComponent(to) + "&writeKey=" + encodeURIComponent(cfg.writeKey) + "&anonymousId=" + encodeURIComponent(aid), {
        credentials: "include"
      })
    ).then((r) => r.ok ? r.json() : {}).then((j) => {
      if (j.token && j.anonymousId) {
        aid = j.anonymousId;
        saveIds();
      }
      return j.token;
    }),
    new Promise((res) => setTimeout(res, XD_TIMEOUT_MS))
  ]).catch(NOOP);
  const onClick = (ev) => {
    if (ev.defaultPrevented || ev.button || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.composedPath().find((n) => n.tagName == "A" && n.hasAttribute("href"));
    if (!a || a.hasAttribute("download")) return;
    const u = new URL(a.href, loc.href);
    if (!allowed() || u.protocol != "https:" || u.hostname == loc.hostname || !cfg.crossDomain.includes(u.hostname))
      return;
    if (a.target && !/^_(self|top|parent|blank)$/i.test(a.target)) return;
    if (/\bnoreferrer\b/i.test(a.rel) || ["no-referrer", "same-origin"].includes(a.referrerPolicy)) return;
    ev.preventDefault();
    const go = (tok) => {
      try {
        if (tok) u.searchParams.set("_dft", tok);
        const b = d.createElement("a");
        for (const k of ["target", "rel"]) if (a.hasAttribute(k)) b.setAttribute(k, a.getAttribute(k));
        b.referrerPolicy = a.referrerPolicy || "strict-origin";
        b.href = u.href;
        b.click();
      } catch (e) {
        dbg("xd", e);
      }
    };
    token(u.href).then(go, () => go());
  };
  const landing = () => {
    const s = new URLSearchParams(loc.search);
    const v = s.get("_dft");
    if (v == null) return;
    s.delete("_dft");
    const qs = s.toString();
    hist.replaceState(hist.state, "", loc.pathname + (qs ? "?" + qs : "") + loc.hash);
    if (cfg.crossDomain.includes((d.referrer.split("/")[2] || "").split(":")[0])) dft = v;
    else dbg("xd: referrer");
  };
  const moved = () => setTimeout(() => {
    const u = bare();
    if (u == here) return;
    ref = here;
    here = u;
    out.page();
  });
  const spa = () => {
    for (const m of ["pushState", "replaceState"]) {
      const f = hist[m];
      hist[m] = function() {
        const r = f.apply(this, arguments);
        try {
          moved();
        } catch (e) {
        }
        return r;
      };
    }
    w.addEventListener("popstate", moved);
  };
  const narrow = () => {
    for (const e of q) {
      const c = cats && e.context && e.context.consent;
      if (c && Array.isArray(c.categories)) c.categories = c.categories.filter((x) => cats.includes(x));
    }
  };
  const queues = () => Object.keys(ls).filter((k) => !k.indexOf(P + "q:"));
  const adopt = () => {
    if (!ls || !allowed()) return 0;
    const n = q.length;
    const have = new Set(q.map((e) => e.messageId));
    try {
      for (const k of queues()) {
        if (k == P + tab) continue;
        const s = get(k.slice(P.length));
        if (s && s.t && now() - s.t < STALE_MS) continue;
        put(k.slice(P.length));
        for (const e of s && s.q || []) if (e && e.messageId && !have.has(e.messageId)) q.push(e);
      }
    } catch (e) {
    }
    q.sort((a, b) => (a.timestamp > b.timestamp) - (a.timestamp < b.timestamp));
    narrow();
    while (q.length > cfg.maxQueue) {
      q.shift();
      stats.overflow++;
    }
    save();
    return q.length - n;
  };
  const api = {
    VERSION,
    init(o) {
      if (on) return;
      if (d.prerendering) return d.addEventListener("prerenderingchange", () => out.init(o));
      o = o || {};
      cfg = Object.assign({}, D, { endpoint }, o);
      if (!cfg.writeKey) return dbg("no writeKey: not started");
      if (!cfg.endpoint) return dbg("no endpoint: not started");
      if (w.origin == "null")
        return console.warn("sluice: not started: this page has no origin (a sandboxed iframe, a file: page), which no gateway allows");
      if (o.requireConsent == null) cfg.requireConsent = !!(cfg.tcf || cfg.consentMode || cfg.onetrust || cfg.cookiebot);
      cfg.endpoint = String(cfg.endpoint).replace(/\/+$/, "");
      cfg.crossDomain = arr(cfg.crossDomain);
      size = Math.max(1, cfg.batchSize | 0);
      on = 1;
      const c = get("consent");
      cats = Array.isArray(c) ? c : cfg.categories.length ? arr(cfg.categories) : null;
      aid = get("aid") || aid || uuid();
      uid = get("uid");
      saveIds();
      landing();
      here = bare();
      const adopted = adopt();
      const L = (t, f, o2 = w) => o2.addEventListener(t, (ev) => {
        try {
          f(ev);
        } catch (e2) {
          dbg(t, e2);
        }
      });
      const sync = (k, v) => {
        if (k == P + "uid") uid = JSON.parse(v);
        if (k == P + "aid" && v) aid = JSON.parse(v);
        const c2 = k == P + "consent" && JSON.parse(v);
        if (!Array.isArray(c2)) return;
        if (cfg.requireConsent && !c2.length) return out.consent({ categories: [] });
        if (cats) {
          cats = cats.filter((x) => c2.includes(x));
          narrow();
          save();
        }
      };
      L("pagehide", () => {
        beacon();
        alive = 0;
        if (healthy) drop(inflight);
        save();
      });
      L("pageshow", (ev) => {
        if (!ev.persisted) return;
        try {
          if (allowed()) for (const k of ["uid", "aid", "consent"]) sync(P + k, ls.getItem(P + k));
        } catch (e2) {
        }
        alive = 1;
        const s = get(tab);
        if (kept) q = s && s.q || [];
        save();
        if (cfg.autoPage) out.page();
        flush();
      });
      L("visibilitychange", () => d.visibilityState == "hidden" ? beacon() : flush(), d);
      L("storage", (ev) => sync(ev.key, ev.newValue));
      L("online", () => {
        retryAt = 0;
        flush();
      });
      L("click", onClick, d);
      const e = early;
      early = [];
      adapters(w, cfg, out.consent, dbg);
      if (cfg.autoPage) out.page();
      if (cfg.autoPage == "history") spa();
      for (const [m, a, t] of e) {
        at = t;
        out[m](...a);
      }
      at = "";
      if (adopted) flush();
    },
    track(event, properties) {
      send("track", { event: String(event), properties: props(properties) });
    },
    page(name, properties) {
      if (typeof name == "object") properties = name, name = void 0;
      send(
        "page",
        Object.assign(name != null ? { name: String(name) } : {}, {
          properties: Object.assign(page(), { search: loc.search }, props(properties))
        })
      );
    },
    identify(userId, traits) {
      if (typeof userId == "object" && userId) traits = userId, userId = null;
      if (userId != null) uid = String(userId);
      saveIds();
      send("identify", { traits: props(traits) });
    },
    group(groupId, traits) {
      send("group", { groupId: String(groupId), traits: props(traits) });
    },
    alias(userId, previousId) {
      const prev = previousId != null ? String(previousId) : uid || aid;
      uid = String(userId);
      saveIds();
      send("alias", { userId: uid, previousId: prev });
    },
    consent(o) {
      cats = arr(o && o.categories);
      put("consent", cats);
      narrow();
      if (allowed()) {
        saveIds();
        for (const e of held) {
          e.context.consent.categories = cats.slice();
          push(e);
        }
        held = [];
        adopt();
        flush();
      } else if (cfg.requireConsent) {
        stats.denied += held.length + q.length;
        held = [];
        q = [];
        aid = uuid();
        uid = null;
        put("aid");
        put("uid");
        try {
          for (const k of queues()) ls.removeItem(k);
        } catch (e) {
        }
      }
    },
    reset() {
      uid = null;
      aid = uuid();
      put("uid");
      saveIds();
    },
    flush() {
      retryAt = 0;
      return flush();
    },
    // A prerendered page may read it for its own bucketing: the visitor's stored id, or the
    // one this page will store once shown (kept in memory: a page never shown stores nothing).
    anonymousId: () => aid || (d.prerendering ? aid = get("aid") || uuid() : aid),
    stats: () => Object.assign({ queued: q.length, held: held.length }, stats),
    // The loader snippet's array method, so a snippet that runs after the file still works.
    push: ([m, ...a]) => m != "push" && out[m] && out[m](...a)
  };
  const ready = { init: 1, anonymousId: 1, stats: 1, push: 1 };
  const out = {};
  for (const m in api) {
    const f = api[m];
    out[m] = typeof f != "function" ? f : (...a) => {
      try {
        if (!on && !ready[m]) {
          const c = (x) => {
            try {
              return x && typeof x == "object" ? JSON.parse(json(x)) : x;
            } catch (e) {
              return x;
            }
          };
          if (early.length < D.maxQueue) early.push([m, a.map(c), d.prerendering ? "" : iso()]);
          return m == "flush" ? Promise.resolve() : void 0;
        }
        const r = f(...a);
        return r && r.catch ? r.catch(NOOP) : r;
      } catch (e) {
        dbg(m, e);
      }
    };
  }
  return out;
};

// src/index.js
var inert = () => ({
  VERSION,
  init() {
  },
  track() {
  },
  page() {
  },
  identify() {
  },
  group() {
  },
  alias() {
  },
  consent() {
  },
  reset() {
  },
  flush: () => Promise.resolve(),
  anonymousId() {
  },
  stats: () => ({ queued: 0, held: 0, sent: 0, invalid: 0, overflow: 0, retries: 0, denied: 0 }),
  push() {
  }
});
var sluice = typeof window != "undefined" && typeof document != "undefined" ? create(window, document, navigator, "") : inert();
var index_default = sluice;
export {
  index_default as default,
  sluice
};
