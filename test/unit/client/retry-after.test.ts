import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_AFTER_CAP_MS, parseRetryAfter } from '../../../lambdas/core/retry-after.ts';

// A fixed "now" (Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example date): no real clock.
const NOW = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseRetryAfter', () => {
  describe('delta-seconds', () => {
    it('reads whole seconds as milliseconds', () => {
      // Prepare
      const value = '120';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(120_000);
    });

    it('reads 0 as no wait', () => {
      // Prepare
      const value = '0';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(0);
    });

    it('tolerates surrounding whitespace', () => {
      // Prepare
      const value = '  7 ';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(7_000);
    });

    it('rounds fractional seconds up, never coming back early', () => {
      // Prepare
      const value = '1.2';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(2_000);
    });

    it('clamps a negative value to 0', () => {
      // Prepare
      const value = '-30';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(0);
    });

    it('caps an absurd value at the default cap of one hour', () => {
      // Prepare
      const value = '99999999999';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(DEFAULT_RETRY_AFTER_CAP_MS);
      expect(DEFAULT_RETRY_AFTER_CAP_MS).toBe(3_600_000);
    });

    it('caps a number beyond double range instead of returning Infinity', () => {
      // Prepare
      const value = '9'.repeat(400);

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(DEFAULT_RETRY_AFTER_CAP_MS);
    });

    it('honours a caller-given cap', () => {
      // Prepare
      const value = '600';

      // Act
      const waitMs = parseRetryAfter(value, NOW, 60_000);

      // Assess
      expect(waitMs).toBe(60_000);
    });
  });

  describe('HTTP-date', () => {
    it('reads an IMF-fixdate relative to now', () => {
      // Prepare
      const value = 'Sun, 06 Nov 1994 08:51:37 GMT';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(120_000);
    });

    it('rounds a date up to the next whole second when now has milliseconds', () => {
      // Prepare
      const value = 'Sun, 06 Nov 1994 08:49:40 GMT';

      // Act
      const waitMs = parseRetryAfter(value, NOW + 250);

      // Assess
      expect(waitMs).toBe(3_000);
    });

    it('reads the obsolete RFC 850 form', () => {
      // Prepare
      const value = 'Sunday, 06-Nov-94 08:50:37 GMT';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(60_000);
    });

    it('reads the obsolete asctime form as UTC', () => {
      // Prepare
      const value = 'Sun Nov  6 08:50:07 1994';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(30_000);
    });

    it('clamps a date in the past to 0', () => {
      // Prepare
      const value = 'Sat, 05 Nov 1994 08:49:37 GMT';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(0);
    });

    it('caps year 9999 at the cap', () => {
      // Prepare
      const value = 'Fri, 31 Dec 9999 23:59:59 GMT';

      // Act
      const waitMs = parseRetryAfter(value, NOW);

      // Assess
      expect(waitMs).toBe(DEFAULT_RETRY_AFTER_CAP_MS);
    });
  });

  describe('absent or garbage', () => {
    it.each([
      ['null', null],
      ['undefined', undefined],
      ['empty', ''],
      ['blank', '   '],
      ['words', 'soon'],
      ['a number with a unit', '10s'],
      ['exponent notation', '1e3'],
      ['a bare number Date.parse would accept', '1 2'],
      ['an ISO date (not an HTTP-date)', '1994-11-06T08:51:37Z'],
      ['a date without a zone', 'Sun, 06 Nov 1994 08:51:37'],
      ['an impossible date', 'Sun, 45 Nov 1994 08:51:37 GMT'],
    ])('returns null for %s', (_label, value) => {
      // Prepare
      const header = value;

      // Act
      const waitMs = parseRetryAfter(header, NOW);

      // Assess
      expect(waitMs).toBeNull();
    });
  });
});
