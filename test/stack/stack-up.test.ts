import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { KAFKA_VERSION } from '../../src/stack/kafka-server.js';
import { FERRETDB_VERSION, startMongo } from '../../src/stack/mongo-server.js';
import { choosePort } from '../../src/stack/process.js';
import { stackDown, stackUp } from '../../src/stack/stack.js';
import { cleanUp } from '../helpers/cleanup.js';
import { kafkaBrokers } from '../helpers/servers.js';

const { cacheDir } = loadConfig({ ...process.env, KAFKA_BROKERS: undefined, MONGODB_URI: undefined }).stack;
const ferretdb = path.join(cacheDir, `ferretdb-${FERRETDB_VERSION}`, 'bin', 'ferretdb');
const [broker = ''] = kafkaBrokers();

// A FerretDB built by an earlier `stack up`, and the tests' broker on this machine, stand in for a local stack.
describe.runIf(process.platform === 'linux' && existsSync(ferretdb) && broker.startsWith('127.0.0.1:'))('stack up', () => {
  it('uses a FerretDB already serving its data dir whose pid it lost, instead of starting a second one on the same files', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'stack-up-'));
    const root = path.join(dataDir, 'stack');
    await mkdir(root, { recursive: true });
    const dirs = { dataDir, cacheDir };
    cleanUp(() => rm(dataDir, { recursive: true, force: true }));

    // FerretDB started by hand on the stack's data dir: the stack's pid file does not name it.
    const port = await choosePort(27400);
    const pid = await startMongo({ kind: 'ferretdb', binary: ferretdb, dataDir: path.join(root, 'mongo'), logFile: path.join(dataDir, 'by-hand.log'), pidFile: path.join(dataDir, 'by-hand.pid'), port });
    cleanUp(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Stopped already, by the stack that took it over.
      }
    });
    await writeFile(path.join(root, 'mongo.pid'), '999999\n');
    // The broker is taken as running: its pid file names this live process.
    await writeFile(path.join(root, 'kafka.pid'), `${process.pid}\n`);
    const state = { kafka: { port: Number(broker.split(':')[1]), controllerPort: 0, version: KAFKA_VERSION }, mongo: { port, kind: 'ferretdb', version: `FerretDB ${FERRETDB_VERSION}` } };
    await writeFile(path.join(root, 'state.json'), JSON.stringify(state));
    // Whatever this start starts is stopped again (the broker's pid file is dropped first: not ours to stop).
    cleanUp(async () => {
      await rm(path.join(root, 'kafka.pid'), { force: true });
      await stackDown(dirs, ['mongo']);
    });

    const info = await stackUp(dirs);
    expect(info.started).toEqual([]);
    expect(info.mongodbUri).toBe(`mongodb://127.0.0.1:${port}/`);
    expect(Number(await readFile(path.join(root, 'mongo.pid'), 'utf8'))).toBe(pid);
  });
});
