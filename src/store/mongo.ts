import { MongoClient, type Db } from 'mongodb';

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  /** e.g. `FerretDB v1.24.2 (MongoDB 7.0.42 wire)` or `MongoDB 8.0.4`. */
  serverVersion: string;
}

export async function connectMongo(uri: string, database: string): Promise<MongoConnection> {
  const client = new MongoClient(uri, {
    // A stopped server should fail calls fast (the API answers 503) instead of hanging them.
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    maxPoolSize: 50,
  });
  await client.connect();
  return { client, db: client.db(database), serverVersion: await describeServer(client) };
}

export async function describeServer(client: MongoClient): Promise<string> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  return info.ferretdbVersion ? `FerretDB ${info.ferretdbVersion} (MongoDB ${info.version} wire)` : `MongoDB ${info.version}`;
}
