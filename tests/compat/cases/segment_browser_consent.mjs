// analytics.js wrapped by Segment's consent wrapper (@segment/analytics-consent-tools): consent in
// context.consent.categoryPreferences, mapped by the org's consent.aliases. The checks:
// segment_browser.mjs.
import { segmentConsentCase } from '../segment_browser.mjs';

export default (t) => segmentConsentCase(t);
