import { describe, expect, it } from 'vitest';
import { hourOf, startOf } from '../../src/store/partitions.js';

describe('hourOf', () => {
  it('names the UTC hour of any time, whichever hour it named before', () => {
    const a = Date.UTC(2026, 11, 3, 21, 59, 59, 999);
    const b = Date.UTC(2026, 11, 3, 22, 0, 0, 0);
    const c = Date.UTC(1999, 0, 1, 0, 30);
    expect([hourOf(a), hourOf(b), hourOf(a), hourOf(c), hourOf(b)]).toEqual(['2026120321', '2026120322', '2026120321', '1999010100', '2026120322']);
    expect(startOf(hourOf(a))).toBe(Date.UTC(2026, 11, 3, 21));
  });
});
