import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.js';

/** A write that records its items and holds the first write until `release`. */
function firstWriteHeld<T>() {
  const writes: T[][] = [];
  let release: () => void = () => {};
  const write = async (items: T[]) => {
    writes.push(items);
    if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
  };
  return { writes, write, release: () => release() };
}

describe('Batcher', () => {
  it('writes many adds as one batch and resolves each caller', async () => {
    const writes: number[][] = [];
    const batcher = new Batcher<number>(async (items) => void writes.push(items), { maxItems: 100, maxDelayMs: 5 });
    await Promise.all([batcher.add(1), batcher.add(2, 3), batcher.add(4)]);
    expect(writes).toEqual([[1, 2, 3, 4]]);
  });

  it('with maxDelayMs 0, writes what one event-loop turn added at once, and gathers what arrives during a write', async () => {
    const { writes, write, release } = firstWriteHeld<number>();
    const batcher = new Batcher<number>(write, { maxItems: 100, maxDelayMs: 0 });
    const first = Promise.all([batcher.add(1), batcher.add(2)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([[1, 2]]);
    const second = Promise.all([batcher.add(3), batcher.add(4)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writes).toEqual([[1, 2]]);
    release();
    await Promise.all([first, second]);
    expect(writes).toEqual([[1, 2], [3, 4]]);
  });

  it('with maxDelayMs, the write after a busy one waits until its oldest item is that old, unless maxItems wait', async () => {
    const { writes, write, release } = firstWriteHeld<number>();
    const batcher = new Batcher<number>(write, { maxItems: 4, maxDelayMs: 40 });
    const first = batcher.add(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(writes).toEqual([[1]]);
    const second = Promise.all([batcher.add(2), batcher.add(3)]);
    release();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Just added: gathered with what comes in the next 40 ms, not written alone at once.
    expect(writes).toEqual([[1]]);
    const third = batcher.add(4);
    await Promise.all([second, third]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
    // maxItems waiting go at once.
    const started = Date.now();
    await Promise.all([batcher.add(5, 6), batcher.add(7, 8)]);
    expect(writes.at(-1)).toEqual([5, 6, 7, 8]);
    expect(Date.now() - started).toBeLessThan(30);
  });

  it('flush writes everything waiting, also what came in young behind a write in flight', async () => {
    const { writes, write, release } = firstWriteHeld<number>();
    const batcher = new Batcher<number>(write, { maxItems: 100, maxDelayMs: 1_000 });
    const first = batcher.add(1);
    const flushed = batcher.flush();
    const second = batcher.add(2);
    release();
    await flushed;
    // What a store's close waits for: nothing is left behind a timer once it returns.
    expect(writes).toEqual([[1], [2]]);
    await Promise.all([first, second]);
  });

  it('flushes early at maxItems', async () => {
    const writes: number[][] = [];
    const batcher = new Batcher<number>(async (items) => void writes.push(items), { maxItems: 2, maxDelayMs: 10_000 });
    await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3).then(() => 'late'), batcher.flush()]);
    expect(writes).toEqual([[1, 2], [3]]);
  });

  it('rejects every caller of a failed write, and the next batch still goes', async () => {
    let fail = true;
    const batcher = new Batcher<number>(
      async () => {
        if (fail) throw new Error('broker away');
      },
      { maxItems: 10, maxDelayMs: 1 },
    );
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.add(3)).resolves.toBeUndefined();
  });

  it('hands each caller the results of its own items from one shared write', async () => {
    let writes = 0;
    const batcher = new Batcher<number, string>(
      async (items) => {
        writes++;
        return items.map((n) => `#${n}`);
      },
      { maxItems: 100, maxDelayMs: 5 },
    );
    const [a, b, c] = await Promise.all([batcher.submit(1, 2), batcher.submit(3), batcher.submit(4, 5, 6)]);
    expect(writes).toBe(1);
    expect([a, b, c]).toEqual([['#1', '#2'], ['#3'], ['#4', '#5', '#6']]);
  });

  it('gathers what arrives during a write into the next one, up to maxItems callers at a time', async () => {
    const writes: number[][] = [];
    const batcher = new Batcher<number>(
      async (items) => {
        writes.push(items);
        await new Promise((resolve) => setTimeout(resolve, 30));
      },
      { maxItems: 3, maxDelayMs: 1 },
    );
    const first = batcher.add(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // The first write is running: these wait for it, then go out in as few writes as maxItems allows.
    await Promise.all([first, batcher.add(2), batcher.add(3, 4), batcher.add(5), batcher.add(6)]);
    expect(writes).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('with maxWrites 2, a batch goes while another is being written, and what comes while both are busy waits for the first to end', async () => {
    const writes: number[][] = [];
    const releases: Array<() => void> = [];
    const batcher = new Batcher<number>(
      async (items) => {
        writes.push(items);
        await new Promise<void>((resolve) => releases.push(resolve));
      },
      { maxItems: 100, maxDelayMs: 0, maxWrites: 2 },
    );
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const first = batcher.add(1);
    await turn();
    const second = batcher.add(2);
    await turn();
    expect(writes).toEqual([[1], [2]]);
    const third = Promise.all([batcher.add(3), batcher.add(4)]);
    await turn();
    expect(writes).toEqual([[1], [2]]);
    releases[0]!();
    await first;
    await turn();
    expect(writes).toEqual([[1], [2], [3, 4]]);
    releases[1]!();
    releases[2]!();
    await Promise.all([second, third, batcher.flush()]);
  });

  it('with fairBy, takes callers of each key in turn: one of another key goes first in the next write, ahead of a backlog', async () => {
    const { writes, write, release } = firstWriteHeld<string>();
    const batcher = new Batcher<string>(write, { maxItems: 4, maxDelayMs: 0, fairBy: (item) => item.split(':')[0]! });
    const first = batcher.add('flood:0');
    await new Promise((resolve) => setImmediate(resolve));
    // Queued while the first write runs: a backlog of one key, then one caller of another.
    const backlog = [batcher.add('flood:1', 'flood:2'), batcher.add('flood:3'), batcher.add('flood:4', 'flood:5'), batcher.add('flood:6')];
    const other = batcher.add('quiet:1');
    release();
    await Promise.all([first, ...backlog, other]);
    // Whole callers, each key's in the order they came; a write starts with the key after the one that started the last.
    expect(writes).toEqual([['flood:0'], ['quiet:1', 'flood:1', 'flood:2', 'flood:3'], ['flood:4', 'flood:5', 'flood:6']]);
  });

  it('with fairBy, answers a caller that brought no items', async () => {
    const writes: string[][] = [];
    const batcher = new Batcher<string>(async (items) => void writes.push(items), { maxItems: 4, maxDelayMs: 0, fairBy: (item) => item.split(':')[0]! });
    await expect(Promise.all([batcher.submit(), batcher.add('a:1')])).resolves.toEqual([[], undefined]);
    expect(writes).toEqual([['a:1']]);
  });
});
