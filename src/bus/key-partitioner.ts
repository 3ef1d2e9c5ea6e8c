import { Partitioners, type ICustomPartitioner } from 'kafkajs';

/**
 * Kafka's murmur2 of a record key, as the Java client and kafkajs's DefaultPartitioner compute it,
 * in 32-bit arithmetic: kafkajs's own builds 64-bit Long objects for every 4 bytes of every key,
 * about 2 KB of garbage per task, and each task's key is hashed twice (in-hand check and produce).
 * Only the low 32 bits of its products are ever kept, and Math.imul gives exactly those.
 */
export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[length4 + 2]! << 16;
    // falls through
    case 2:
      h ^= data[length4 + 1]! << 8;
    // falls through
    case 1:
      h ^= data[length4]!;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `partitions` that a record with this key goes to. */
export function partitionOfKey(key: Buffer | string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * kafkajs's DefaultPartitioner with the hash above: the same partition for every keyed record, and
 * kafkajs's own choice for a record that names its partition or has no key.
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const plain = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition != null || message.key == null) return plain(args);
    return partitionOfKey(message.key, partitionMetadata.length);
  };
};
