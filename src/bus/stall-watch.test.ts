import { describe, expect, it } from 'vitest';
import { StallWatch } from './stall-watch.js';

function watch(afterMs = 60_000) {
  const clock = { t: 0 };
  return { clock, stalls: new StallWatch(afterMs, () => clock.t) };
}

describe('StallWatch', () => {
  it('reports nothing while fetches keep starting', () => {
    const { clock, stalls } = watch();
    for (let i = 0; i < 10; i++) {
      clock.t += 59_000;
      expect(stalls.fetched()).toBeUndefined();
      expect(stalls.check()).toBeUndefined();
    }
  });

  it('reports a consumer with no fetch for the threshold, with the phase it is stuck in', () => {
    const { clock, stalls } = watch();
    stalls.fetched();
    stalls.enter('waiting for a free slot');
    clock.t += 60_000;
    expect(stalls.check()).toEqual({ phase: 'waiting for a free slot', sinceFetchMs: 60_000 });
  });

  it('reports a long stall again only once per threshold', () => {
    const { clock, stalls } = watch();
    stalls.enter('restarting after a crash');
    clock.t += 61_000;
    expect(stalls.check()?.sinceFetchMs).toBe(61_000);
    clock.t += 30_000;
    expect(stalls.check()).toBeUndefined();
    clock.t += 30_000;
    expect(stalls.check()).toEqual({ phase: 'restarting after a crash', sinceFetchMs: 121_000 });
  });

  it('tells how long a reported stall lasted once fetching resumes, and forgets it', () => {
    const { clock, stalls } = watch();
    stalls.enter('rejoining the group');
    clock.t += 75_000;
    stalls.check();
    clock.t += 5_000;
    expect(stalls.fetched()).toEqual({ phase: 'rejoining the group', sinceFetchMs: 80_000 });
    clock.t += 1_000;
    expect(stalls.fetched()).toBeUndefined();
  });

  it('a stall that was never reported ends quietly', () => {
    const { clock, stalls } = watch();
    clock.t += 90_000;
    expect(stalls.fetched()).toBeUndefined();
  });
});
