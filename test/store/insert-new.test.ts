import { describe, expect, it } from 'vitest';
import { insertNew } from '../../src/store/mongo.js';
import { useMongo } from '../helpers/servers.js';

const { db } = await useMongo('insert-new');

describe('insertNew', () => {
  it('says which records were refused as duplicates, for one record and for many, and stores the others', async () => {
    const docs = db.collection<{ _id: string; n: number }>('records');
    expect(await insertNew(docs, [{ _id: 'a', n: 1 }])).toEqual([]);
    expect(await insertNew(docs, [{ _id: 'a', n: 2 }])).toEqual([0]);
    expect(await insertNew(docs, [{ _id: 'b', n: 1 }, { _id: 'a', n: 3 }, { _id: 'c', n: 1 }, { _id: 'b', n: 4 }])).toEqual([1, 3]);
    expect(await insertNew(docs, [])).toEqual([]);
    expect((await docs.find({}).toArray()).sort((x, y) => x._id.localeCompare(y._id))).toEqual([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 1 },
      { _id: 'c', n: 1 },
    ]);
  });

  it('throws any other refusal, for one record and for many', async () => {
    const docs = db.collection<{ _id: unknown }>('refusals');
    // An array is never a valid _id.
    await expect(insertNew(docs, [{ _id: [1] }])).rejects.toThrow();
    await expect(insertNew(docs, [{ _id: 'ok' }, { _id: [2] }])).rejects.toThrow();
  });
});
