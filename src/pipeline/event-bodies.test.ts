import { describe, expect, it } from 'vitest';
import { CachedEventBodies } from './event-bodies.js';

function countingStore(bodies: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    async bodyOf(workspace: string, eventId: string) {
      reads.push(`${workspace}/${eventId}`);
      return bodies[eventId] ?? null;
    },
  };
}

describe('CachedEventBodies', () => {
  it('reads a body once however many tasks ask for it at once', async () => {
    const store = countingStore({ e1: 'body-1' });
    const cache = new CachedEventBodies(store);
    const bodies = await Promise.all(Array.from({ length: 100 }, () => cache.bodyOf('acme', 'e1')));
    expect(new Set(bodies)).toEqual(new Set(['body-1']));
    expect(store.reads).toEqual(['acme/e1']);
  });

  it('keeps workspaces apart, and drops the oldest bodies past its size', async () => {
    const store = countingStore({ e1: 'a'.repeat(60), e2: 'b'.repeat(60) });
    const cache = new CachedEventBodies(store, 100);
    expect(await cache.bodyOf('acme', 'e1')).toBe('a'.repeat(60));
    expect(await cache.bodyOf('other', 'e1')).toBe('a'.repeat(60));
    expect(await cache.bodyOf('acme', 'e2')).toBe('b'.repeat(60));
    await cache.bodyOf('acme', 'e2');
    await cache.bodyOf('acme', 'e1');
    expect(store.reads).toEqual(['acme/e1', 'other/e1', 'acme/e2', 'acme/e1']);
  });

  it('does not remember a body that is not found', async () => {
    const store = countingStore({});
    const cache = new CachedEventBodies(store);
    expect(await cache.bodyOf('acme', 'nope')).toBeNull();
    expect(await cache.bodyOf('acme', 'nope')).toBeNull();
    expect(store.reads).toHaveLength(2);
  });
});
