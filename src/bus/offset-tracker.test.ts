import { describe, expect, it } from 'vitest';
import { OffsetTracker, Semaphore } from './offset-tracker.js';

describe('OffsetTracker', () => {
  it('commits only up to the lowest unfinished offset', () => {
    const tracker = new OffsetTracker();
    expect(tracker.committable()).toBeUndefined();
    for (const offset of ['10', '11', '12']) tracker.begin(offset);
    expect(tracker.committable()).toBe('10');
    tracker.finish('11');
    tracker.finish('12');
    expect(tracker.committable()).toBe('10');
    tracker.finish('10');
    expect(tracker.committable()).toBe('13');
    expect(tracker.pending).toBe(0);
  });

  it('holds an offset handed out twice until both handlings finish', () => {
    const tracker = new OffsetTracker();
    tracker.begin('5');
    tracker.begin('6');
    tracker.begin('5');
    tracker.finish('6');
    tracker.finish('5');
    expect(tracker.committable()).toBe('5');
    tracker.finish('5');
    expect(tracker.committable()).toBe('7');
  });
});

describe('Semaphore', () => {
  it('lets at most `size` holders in and wakes waiters in order', async () => {
    const semaphore = new Semaphore(2);
    const order: number[] = [];
    await semaphore.acquire();
    await semaphore.acquire();
    const third = semaphore.acquire().then(() => order.push(3));
    const fourth = semaphore.acquire().then(() => order.push(4));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    semaphore.release();
    await third;
    semaphore.release();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it('gives up when the waiter says so', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    expect(await semaphore.acquire(async () => false)).toBe(false);
  });

  it('takes a free slot at once, none when all are held, and none that a waiter is woken for', async () => {
    const semaphore = new Semaphore(1);
    expect(semaphore.tryAcquire()).toBe(true);
    expect(semaphore.tryAcquire()).toBe(false);
    const waiter = semaphore.acquire();
    semaphore.release();
    expect(semaphore.tryAcquire()).toBe(false);
    expect(await waiter).toBe(true);
    semaphore.release();
    expect(semaphore.tryAcquire()).toBe(true);
  });
});
