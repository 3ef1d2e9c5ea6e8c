import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { describeServer } from '../store/mongo.js';
import { findProcesses, hasCommand, requireCommand, run, spawnDetached, waitFor } from './process.js';
import type { Progress } from '../log/progress.js';

/** FerretDB 1.x on SQLite: a MongoDB wire server built from the Go module proxy. */
export const FERRETDB_VERSION = 'v1.24.2';
const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';

export type MongoKind = 'mongod' | 'ferretdb';

export function ferretdbBinary(cacheDir: string): string {
  return path.join(cacheDir, `ferretdb-${FERRETDB_VERSION}`, 'bin', 'ferretdb');
}

/** A mongod on PATH wins; otherwise FerretDB. */
export async function chooseMongoKind(): Promise<MongoKind> {
  return (await hasCommand('mongod')) ? 'mongod' : 'ferretdb';
}

/**
 * Builds FerretDB once into the cache. `go install …@version` cannot be used as is: the
 * module leaves out build/version/version.txt (its release tooling generates it) and the
 * binary panics at start without it, so we build the same module source with that file added.
 */
export async function provisionFerretdb(cacheDir: string, progress: Progress): Promise<string> {
  const binary = ferretdbBinary(cacheDir);
  if (existsSync(binary)) return binary;
  await requireCommand('go', 'install Go 1.22+ (Debian: apt-get install golang), or put a mongod on PATH');
  const home = path.dirname(path.dirname(binary));
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
  const src = path.join(home, 'src');
  await progress.step(
    `Building FerretDB ${FERRETDB_VERSION} with go from the Go module proxy into ${home} (first run only)`,
    `building FerretDB ${FERRETDB_VERSION}`,
    async () => {
      const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], { env }));
      await rm(home, { recursive: true, force: true });
      await mkdir(path.dirname(binary), { recursive: true });
      await cp(info.Dir, src, { recursive: true });
      await run('chmod', ['-R', 'u+w', src]);
      await writeFile(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
      await run('go', ['build', '-buildvcs=false', '-trimpath', '-o', binary, './cmd/ferretdb'], { cwd: src, env });
    },
  );
  await rm(src, { recursive: true, force: true });
  return binary;
}

export interface MongoStart {
  kind: MongoKind;
  binary: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
  port: number;
}

/** Per connection of FerretDB's SQLite backend. */
const SQLITE_PRAGMAS = ['synchronous(normal)', 'cache_size(-65536)', 'mmap_size(268435456)', 'temp_store(memory)'];
/**
 * FerretDB allocates afresh for every document it converts, so Go's collector at its default
 * (GOGC=100) ran often. A heap allowed to grow to five times what is live collects a quarter as
 * often, and took a fifth off FerretDB's CPU in a fan-out to 1,000 webhooks; the memory limit
 * keeps a large scan from growing it without end. Go's scheduler gets half the machine's cores
 * (one on two), which the service, Kafka and their clients share: with one, FerretDB took a third
 * less CPU per small insert on two cores (Go keeps an idle thread spinning a while for work each
 * time a request wakes one, and its bulk inserts were as fast either way).
 */
const ferretdbGoEnv = (): Record<string, string> => ({
  GOGC: '400',
  GOMEMLIMIT: '1GiB',
  GOMAXPROCS: String(Math.max(1, Math.floor(availableParallelism() / 2))),
});

export async function startMongo({ kind, binary, dataDir, port, ...files }: MongoStart): Promise<number> {
  await mkdir(path.join(dataDir, 'db'), { recursive: true });
  const args =
    kind === 'mongod'
      ? ['--dbpath', path.join(dataDir, 'db'), '--port', String(port), '--bind_ip', '127.0.0.1']
      : [
          '--handler=sqlite',
          // WAL (FerretDB's default) synced at checkpoints, not at every commit: a crash of FerretDB
          // or of the service loses no committed write; only the machine itself going down may take
          // the last ones, as with Kafka, which acknowledges writes before they reach the disk.
          // Pages read through memory and cached up to 64 MiB per connection instead of SQLite's
          // 2 MiB: an hour's many tables and indexes outgrow that, and each page missed is a read
          // call (a fan-out to 1,000 webhooks came 4–5% sooner).
          `--sqlite-url=file:${path.join(dataDir, 'db')}/?${SQLITE_PRAGMAS.map((p) => `_pragma=${p}`).join('&')}`,
          `--state-dir=${dataDir}`,
          `--listen-addr=127.0.0.1:${port}`,
          '--debug-addr=-',
          '--telemetry=disable',
          '--log-level=warn',
        ];
  return spawnDetached(binary, args, files, kind === 'ferretdb' ? { env: { ...process.env, ...ferretdbGoEnv() } } : {});
}

/**
 * A FerretDB already serving this data dir, started by an earlier `stack up` whose pid file no
 * longer names it (it was restarted by hand, say). A second one on the same SQLite files would
 * serve them beside it, each with its own idea of which collections exist. mongod locks its
 * data dir itself.
 */
export async function findFerretdbServing(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const [found] = await findProcesses((args) => args.includes(`--state-dir=${dataDir}`));
  const port = Number(found?.args.find((arg) => arg.startsWith('--listen-addr='))?.split(':').pop());
  return found && Number.isInteger(port) && port > 0 ? { pid: found.pid, port } : undefined;
}

/** Ready when `ping` answers; returns the server's own version line. */
export async function waitForMongo(uri: string, timeoutMs: number, logFile?: string): Promise<string> {
  let version = '';
  await waitFor(
    `MongoDB at ${uri}`,
    async () => {
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
      try {
        await client.connect();
        await client.db('admin').command({ ping: 1 });
        version = await describeServer(client);
        return true;
      } finally {
        await client.close().catch(() => {});
      }
    },
    timeoutMs,
    logFile,
  );
  return version;
}
