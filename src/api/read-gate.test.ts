import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReadGate } from './read-gate.js';

/** A read that ends when told to, and says whether it started. */
function pending() {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const state = { started: false };
  const done = new Promise<string>((resolve, reject) => {
    finish = () => resolve('read');
    fail = reject;
  });
  return { state, finish, fail, read: () => ((state.started = true), done) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('ReadGate', () => {
  it('runs at most perWorkspace reads of a workspace, and the next once one ends', async () => {
    const gate = new ReadGate({ perWorkspace: 2, total: 4, maxWaiting: 8, maxWaitMs: 10_000 });
    const reads = [pending(), pending(), pending()];
    const runs = reads.map((r) => gate.run('ws-a', r.read));
    await tick();
    expect(reads.map((r) => r.state.started)).toEqual([true, true, false]);
    reads[0]!.finish();
    await tick();
    expect(reads[2]!.state.started).toBe(true);
    reads[1]!.finish();
    reads[2]!.finish();
    expect(await Promise.all(runs)).toEqual(['read', 'read', 'read']);
  });

  it("lets another workspace's read past a workspace that waits for its own slots", async () => {
    const gate = new ReadGate({ perWorkspace: 1, total: 2, maxWaiting: 8, maxWaitMs: 10_000 });
    const [a1, a2, b1] = [pending(), pending(), pending()];
    const runs = [gate.run('ws-a', a1.read), gate.run('ws-a', a2.read), gate.run('ws-b', b1.read)];
    await tick();
    expect([a1.state.started, a2.state.started, b1.state.started]).toEqual([true, false, true]);
    for (const r of [a1, a2, b1]) r.finish();
    await Promise.all(runs);
  });

  it('runs at most total reads in all, and grants freed slots in arrival order', async () => {
    const gate = new ReadGate({ perWorkspace: 2, total: 2, maxWaiting: 8, maxWaitMs: 10_000 });
    const [a, b, c, d] = [pending(), pending(), pending(), pending()];
    const runs = [gate.run('ws-a', a.read), gate.run('ws-b', b.read), gate.run('ws-c', c.read), gate.run('ws-d', d.read)];
    await tick();
    expect([a, b, c, d].map((r) => r.state.started)).toEqual([true, true, false, false]);
    // A failed read frees its slot too.
    b.fail(new Error('store down'));
    await expect(runs[1]).rejects.toThrow('store down');
    await tick();
    expect([c.state.started, d.state.started]).toEqual([true, false]);
    for (const r of [a, c, d]) r.finish();
    await Promise.all([runs[0], runs[2], runs[3]]);
    expect(d.state.started).toBe(true);
  });

  it('refuses at once when too many of a workspace already wait, saying what to do', async () => {
    const gate = new ReadGate({ perWorkspace: 1, total: 4, maxWaiting: 1, maxWaitMs: 10_000 });
    const [first, second] = [pending(), pending()];
    const runs = [gate.run('ws-a', first.read), gate.run('ws-a', second.read)];
    await expect(gate.run('ws-a', async () => 'never')).rejects.toMatchObject({
      code: 'resource_exhausted',
      message: 'too many reads at once for this workspace: 1 run and 1 wait at most; send the next when one has answered',
    });
    first.finish();
    second.finish();
    await Promise.all(runs);
  });

  it('refuses a read whose wait runs out, and one whose caller went away, without running them', async () => {
    vi.useFakeTimers();
    const gate = new ReadGate({ perWorkspace: 1, total: 1, maxWaiting: 4, maxWaitMs: 2_000 });
    const holder = pending();
    const held = gate.run('ws-a', holder.read);
    const late = pending();
    const waiting = gate.run('ws-b', late.read);
    const gone = new AbortController();
    const abandoned = pending();
    const leaving = gate.run('ws-c', abandoned.read, gone.signal);
    gone.abort();
    await expect(leaving).rejects.toMatchObject({ code: 'resource_exhausted', message: 'the caller went away while its read waited' });
    vi.advanceTimersByTime(2_000);
    await expect(waiting).rejects.toMatchObject({ code: 'resource_exhausted', message: 'the store is busy with other reads: no slot within 2 s; try again shortly' });
    holder.finish();
    await held;
    expect([late.state.started, abandoned.state.started]).toEqual([false, false]);
    // Neither left a slot taken.
    expect(await gate.run('ws-b', async () => 'ok')).toBe('ok');
  });

  it('checks its limits once, when made', () => {
    expect(() => new ReadGate({ perWorkspace: 0, total: 4, maxWaiting: 1, maxWaitMs: 1 })).toThrow('perWorkspace must be a positive whole number, got 0');
  });
});
