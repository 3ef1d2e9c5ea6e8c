import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

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
