import { describe, expect, it } from 'vitest';
import { deliveryTask } from '../../test/helpers/doubles.js';
import { decodeTask, encodeTask, splitBySize } from './task-queue.js';

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

describe('encodeTask', () => {
  it('never carries the mark of a delivery not stored yet into Kafka: a queued task has its delivery stored', () => {
    const task = deliveryTask('whk_queued');
    expect(decodeTask(encodeTask({ ...task, deferred: { source: 'events:0:1' } }))).toEqual(task);
    expect(decodeTask(encodeTask(task))).toEqual(task);
  });
});
