import { describe, expect, it } from 'vitest';
import { splitBySize } from './task-queue.js';

const item = (bytes: number) => ({ message: { value: Buffer.alloc(bytes) } });

describe('splitBySize', () => {
  it('keeps each produce under the byte budget, and a record over it alone', () => {
    const chunks = splitBySize([item(400), item(400), item(400), item(2_000), item(10)], 1_000);
    expect(chunks.map((c) => c.map((i) => i.message.value.length))).toEqual([[400, 400], [400], [2_000], [10]]);
  });

  it('leaves small batches whole', () => {
    expect(splitBySize([item(10), item(10)], 1_000)).toHaveLength(1);
    expect(splitBySize([], 1_000)).toEqual([]);
  });
});
