/**
 * sluice.js, the browser tag of sluice: a Segment-shaped API whose events go in batches to the
 * org's own first-party gateway. The same API is `window.sluice` when the tag is served by the
 * gateway (`<script src="https://data.shop.example/sluice.js">`) and the default export of the
 * npm package `@sluice/tag`.
 *
 * Every method returns at once, never throws, and may be called before `init` (the call runs
 * once the tag has started). Documentation: docs/tag.md in the sluice repository.
 */

/** A consent category, as the org's config names them (`analytics`, `marketing`, ...). */
export type Category = string;

/** Event properties or traits: any JSON object. */
export interface Properties {
    [key: string]: unknown;
}

/** Category -> the consent manager's ids that must all be granted for it. */
export type ConsentMapping<Id> = Record<Category, Id[]>;

/** IAB TCF v2.2 purpose ids (1 to 11). */
export type TcfPurpose = number;

/** The four signals of Google Consent Mode v2. */
export type ConsentModeSignal = 'analytics_storage' | 'ad_storage' | 'ad_user_data' | 'ad_personalization';

export interface Options {
    /** The browser source's write key. */
    writeKey: string;
    /**
     * The gateway, `https://data.shop.example`. The served tag defaults to the origin it was
     * loaded from; with the npm package it is required.
     */
    endpoint?: string;
    /** The gateway's `server.path_prefix`. Default `/v1`. */
    prefix?: string;
    /** Events per request. Default 20. */
    batchSize?: number;
    /** Milliseconds an event waits for companions before its batch goes. Default 1000. */
    flushInterval?: number;
    /** Events kept; beyond it the oldest are dropped. Default 1000. */
    maxQueue?: number;
    /** Milliseconds before the first retry, doubled each time. Default 1000. */
    retryBase?: number;
    /** Longest wait between retries in milliseconds. Default 30000. */
    retryMax?: number;
    /**
     * `true` (default): a page view when the tag starts (a prerendered page: when it is shown)
     * and each time the back/forward cache restores the page. `'history'`: also one after each
     * `pushState`, `replaceState` or `popstate` that changes the address (single-page apps),
     * with the previous address as referrer. `false`: none.
     */
    autoPage?: boolean | 'history';
    /**
     * Send nothing before `consent()` grants a category. Default `false`, or `true` when a
     * consent-manager adapter is on.
     */
    requireConsent?: boolean;
    /** Categories granted already; a choice stored by `consent()` wins. */
    categories?: Category[];
    /** Host names of the org's other sites, for one anonymous id across them. */
    crossDomain?: string[];
    /** Say with `console.warn` why events were dropped or retried. */
    debug?: boolean;
    /**
     * IAB TCF v2.2 (`__tcfapi`): `true` maps `analytics` to purposes 1 and 8 and `marketing` to
     * 1, 3, 4 and 7; or give the mapping.
     */
    tcf?: boolean | ConsentMapping<TcfPurpose>;
    /**
     * Google Consent Mode v2 (`gtag('consent', ...)` in `window.dataLayer`): `true` maps
     * `analytics` to `analytics_storage`, `marketing` to `ad_storage` and `ad_user_data`,
     * `personalization` to `ad_personalization`; or give the mapping.
     */
    consentMode?: boolean | ConsentMapping<ConsentModeSignal>;
    /** OneTrust groups: `true` maps `analytics` to `C0002`, `marketing` to `C0004`. */
    onetrust?: boolean | ConsentMapping<string>;
    /** Cookiebot categories: `true` maps `analytics` to `statistics`, `marketing` to `marketing`. */
    cookiebot?: boolean | ConsentMapping<'necessary' | 'preferences' | 'statistics' | 'marketing'>;
}

export interface Stats {
    /** Waiting to be sent. */
    queued: number;
    /** Waiting for consent (memory only). */
    held: number;
    /** Accepted by the gateway. */
    sent: number;
    /** Refused by the gateway, not retried. */
    invalid: number;
    /** Dropped because the queue was full. */
    overflow: number;
    /** Requests retried. */
    retries: number;
    /** Dropped because consent was refused. */
    denied: number;
}

/** A call in the loader snippet's form: `[method, ...arguments]`. */
export type Call =
    | ['init', Options]
    | ['track', string, Properties?]
    | ['page', Properties?]
    | ['page', string, Properties?]
    | ['identify', string, Properties?]
    | ['identify', Properties]
    | ['group', string, Properties?]
    | ['alias', string, string?]
    | ['consent', { categories: Category[] }]
    | ['reset']
    | ['flush'];

export interface Sluice {
    /** The tag's version. */
    readonly VERSION: string;
    /** Starts the tag (once; later calls are ignored). */
    init(options: Options): void;
    /** `{type: "track", event, properties}`. */
    track(event: string, properties?: Properties): void;
    /** `{type: "page", name?, properties: {url, path, referrer, title, search, ...properties}}`. */
    page(properties?: Properties): void;
    page(name: string, properties?: Properties): void;
    /** `{type: "identify", userId, traits}`; the user id is kept and sent with later events. */
    identify(userId: string, traits?: Properties): void;
    identify(traits: Properties): void;
    /** `{type: "group", groupId, traits}`. */
    group(groupId: string, traits?: Properties): void;
    /** `{type: "alias", userId, previousId}`; `userId` becomes the current user id. */
    alias(userId: string, previousId?: string): void;
    /** Sets the granted categories; an empty list refuses (with `requireConsent`, drops and forgets). */
    consent(choice: { categories: Category[] }): void;
    /** Forgets the user id and starts a new anonymous id. */
    reset(): void;
    /** Sends the next batch now; resolves when its request is answered (never rejects). */
    flush(): Promise<void>;
    /** The anonymous id (`undefined` before the tag has started, except on a prerendered page: the id its events will carry). */
    anonymousId(): string | undefined;
    /** Counters. */
    stats(): Stats;
    /** Runs a call given in the loader snippet's form. */
    push(call: Call): void;
}

/** The tag. Outside a browser (server-side rendering) every method does nothing. */
export declare const sluice: Sluice;
export default sluice;
