import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoopTime } from './loop-time.js';

afterEach(() => vi.useRealTimers());

describe('LoopTime', () => {
  it('runs with the wall clock while the loop keeps up, and stands still while it is held up', () => {
    vi.useFakeTimers();
    const wall = { t: 1_000_000 };
    const clock = new LoopTime(() => wall.t);
    try {
      const start = clock.now();
      wall.t += 50;
      expect(clock.now() - start).toBe(50);
      // Held up for a second before the check could run: the clock stops once the check is 20 ms late.
      wall.t += 1_000;
      expect(clock.now() - start).toBe(120);
      vi.advanceTimersByTime(100); // the late check runs and keeps the hold-up
      expect(clock.now() - start).toBe(120);
      wall.t += 40;
      expect(clock.now() - start).toBe(160);
      wall.t += 60;
      vi.advanceTimersByTime(100);
      // Checks on time take nothing away.
      for (let i = 0; i < 10; i++) {
        wall.t += 100;
        vi.advanceTimersByTime(100);
      }
      expect(clock.now() - start).toBe(1_220);
    } finally {
      clock.stop();
    }
  });

  it('never runs backwards', () => {
    vi.useFakeTimers();
    const wall = { t: 5_000 };
    const clock = new LoopTime(() => wall.t);
    try {
      let last = clock.now();
      for (const step of [10, 700, 5, 0, 300, 90, 2_000, 1]) {
        wall.t += step;
        if (step % 2 === 0) vi.advanceTimersByTime(100);
        const now = clock.now();
        expect(now).toBeGreaterThanOrEqual(last);
        last = now;
      }
    } finally {
      clock.stop();
    }
  });
});
