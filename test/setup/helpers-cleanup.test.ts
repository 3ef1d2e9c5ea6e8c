import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { mongodbUri, useMongo } from '../helpers/servers.js';

// What a helper sets up inside a test is taken down when that test ends (test/helpers/cleanup.ts).
describe.sequential('test helpers', () => {
  let database = '';

  it('set up a database inside a test', async () => {
    const mongo = await useMongo('cleanup-probe');
    database = mongo.database;
    await mongo.db.collection('probe').insertOne({ _id: 'one' } as never);
  });

  it('have dropped it once that test ended', async () => {
    const client = await MongoClient.connect(mongodbUri());
    try {
      const names = (await client.db().admin().listDatabases()).databases.map((d) => d.name);
      expect(database).not.toBe('');
      expect(names).not.toContain(database);
    } finally {
      await client.close();
    }
  });
});
