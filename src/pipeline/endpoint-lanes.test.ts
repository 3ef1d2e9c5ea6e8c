import { describe, expect, it } from 'vitest';
import { EndpointLanes } from './endpoint-lanes.js';

function lanes() {
  const clock = { now: 0 };
  const l = new EndpointLanes({ slowAfterMs: 1_000, slowForMs: 30_000, slowLimit: 2, now: () => clock.now });
  return { l, clock };
}

describe('EndpointLanes', () => {
  it('never limits a webhook whose sends finish quickly, however many run at once', () => {
    const { l, clock } = lanes();
    const tokens = Array.from({ length: 50 }, () => l.tryStart('fast'));
    expect(tokens.every((t) => t !== null)).toBe(true);
    clock.now = 900;
    for (const t of tokens) l.finish('fast', t!);
    expect(l.isSlowNow('fast')).toBe(false);
    expect(l.tryStart('fast')).not.toBeNull();
  });

  it('limits a webhook once a send of it has run too long, and leaves the others alone', () => {
    const { l, clock } = lanes();
    const hung = [l.tryStart('hang'), l.tryStart('hang'), l.tryStart('hang')];
    expect(hung.every((t) => t !== null)).toBe(true);
    clock.now = 1_000;
    expect(l.isSlowNow('hang')).toBe(true);
    expect(l.tryStart('hang')).toBeNull();
    expect(l.tryStart('other')).not.toBeNull();
    // Two of its three sends time out: it is still slow, and one slot under its limit is free again.
    clock.now = 10_000;
    l.finish('hang', hung[0]!);
    l.finish('hang', hung[1]!);
    expect(l.tryStart('hang')).not.toBeNull();
    expect(l.tryStart('hang')).toBeNull();
  });

  it('stays slow for a while after its last slow send, then gets every slot again', () => {
    const { l, clock } = lanes();
    const t = l.tryStart('flaky')!;
    clock.now = 2_000;
    l.finish('flaky', t);
    expect(l.isSlowNow('flaky')).toBe(true);
    const a = l.tryStart('flaky');
    const b = l.tryStart('flaky');
    expect([a === null, b === null, l.tryStart('flaky') === null]).toEqual([false, false, true]);
    l.finish('flaky', a!);
    l.finish('flaky', b!);
    clock.now = 32_001;
    expect(l.isSlowNow('flaky')).toBe(false);
    expect([l.tryStart('flaky'), l.tryStart('flaky'), l.tryStart('flaky')].every((x) => x !== null)).toBe(true);
  });
});
