import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoopTime } from './loop-time.js';

const made: LoopTime[] = [];
afterEach(() => {
  made.splice(0).forEach((clock) => clock.stop());
  vi.useRealTimers();
});

/** A loop time on a wall clock the test moves, its checks on fake timers. */
function clockAt(start: number) {
  vi.useFakeTimers();
  const wall = { t: start };
  const clock = new LoopTime(() => wall.t);
  made.push(clock);
  return { wall, clock };
}

describe('LoopTime', () => {
  it('runs with the wall clock while the loop keeps up, and stands still while it is held up', () => {
    const { wall, clock } = clockAt(1_000_000);
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
  });

  it('never runs backwards', () => {
    const { wall, clock } = clockAt(5_000);
    let last = clock.now();
    for (const step of [10, 700, 5, 0, 300, 90, 2_000, 1]) {
      wall.t += step;
      if (step % 2 === 0) vi.advanceTimersByTime(100);
      const now = clock.now();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });
});
