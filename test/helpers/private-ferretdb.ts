import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ferretdbBinary, startMongo, waitForMongo } from '../../src/stack/mongo-server.js';
import { choosePort } from '../../src/stack/process.js';
import { connectMongo, type MongoConnection } from '../../src/store/mongo.js';
import { cleanUp } from './cleanup.js';

/** The FerretDB that `stack up` built on this machine; absent where the tests run on other servers. */
export const builtFerretdb = ferretdbBinary(loadConfig(process.env).stack.cacheDir);
export const hasBuiltFerretdb = existsSync(builtFerretdb);

/**
 * A FerretDB of its own on a new data dir, connected as the service connects, for a test that may
 * stop it: the servers every test file shares must go on answering. Killed and removed after the
 * test that asked for it, or after the file's tests.
 */
export async function usePrivateFerretdb(database: string): Promise<MongoConnection & { uri: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ferretdb-'));
  const port = await choosePort(27_099);
  const pid = await startMongo({
    kind: 'ferretdb',
    binary: builtFerretdb,
    dataDir,
    port,
    logFile: path.join(dataDir, 'ferretdb.log'),
    pidFile: path.join(dataDir, 'ferretdb.pid'),
  });
  let connection: MongoConnection | undefined;
  cleanUp(async () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already: it failed to start, or stopped by itself.
    }
    await connection?.client.close(true).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });
  const uri = `mongodb://127.0.0.1:${port}/`;
  await waitForMongo(uri, 30_000, path.join(dataDir, 'ferretdb.log'));
  connection = await connectMongo(uri, database);
  return { ...connection, uri };
}
