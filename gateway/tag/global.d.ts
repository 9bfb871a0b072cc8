/**
 * `window.sluice` for pages that load the served tag with a <script> and use TypeScript:
 * `/// <reference types="@sluice/tag/global" />`. Before the tag has loaded, `window.sluice`
 * may be the loader snippet's array of calls.
 */
import type { Call, Sluice } from './index.js';

declare global {
    interface Window {
        sluice: Sluice | Call[];
    }
}

export {};
