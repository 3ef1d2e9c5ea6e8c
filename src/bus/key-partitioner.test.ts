import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartitioner, murmur2, partitionOfKey } from './key-partitioner.js';

// kafkajs's own hash, which decides where every keyed record went until now.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

const metadata = (count: number): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe('murmur2', () => {
  it('hashes every key as kafkajs does, whatever its length and bytes', () => {
    const keys: Array<Buffer | string> = ['', 'a', 'ab', 'abc', 'abcd', 'whk_2x9Qk3', 'ünïcødé ключ 鍵 🔑'];
    for (let length = 0; length < 70; length++) keys.push(randomBytes(length), `whk_${randomBytes(length).toString('base64url')}`);
    for (const key of keys) expect(murmur2(key), `key ${JSON.stringify(key.toString())}`).toBe(kafkajsMurmur2(key));
  });

  it('gives the Java client’s values', () => {
    // From Apache Kafka's UtilsTest.testMurmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
  });
});

describe('keyPartitioner', () => {
  it('puts a keyed record where kafkajs’s DefaultPartitioner puts it', () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 12, 16]) {
      for (let i = 0; i < 500; i++) {
        const key = `whk_${randomBytes(12).toString('base64url')}`;
        const args = { topic: 't', partitionMetadata: metadata(partitions), message: { key, value: null } };
        expect(ours(args)).toBe(theirs(args));
        expect(partitionOfKey(key, partitions)).toBe(theirs(args));
      }
    }
  });

  it('keeps a partition the record names, and spreads records without a key', () => {
    const ours = keyPartitioner();
    expect(ours({ topic: 't', partitionMetadata: metadata(4), message: { key: 'k', value: null, partition: 2 } })).toBe(2);
    const unkeyed = new Set(Array.from({ length: 8 }, () => ours({ topic: 't', partitionMetadata: metadata(4), message: { value: null } })));
    expect(unkeyed.size).toBe(4);
  });
});
