import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatKafka, KAFKA_VERSION, provisionKafka, startKafka, waitForKafka, type KafkaPorts } from './kafka-server.js';
import {
  chooseMongoKind,
  FERRETDB_VERSION,
  findFerretdbServing,
  provisionFerretdb,
  startMongo,
  waitForMongo,
  type MongoKind,
} from './mongo-server.js';
import { choosePort, isPortFree, readPid, stopPid } from './process.js';
import { Progress, type Say } from '../log/progress.js';

export interface StackDirs {
  dataDir: string;
  cacheDir: string;
}

interface StackState {
  kafka?: KafkaPorts & { version: string };
  mongo?: { port: number; kind: MongoKind; version: string };
}

export interface StackInfo {
  kafkaBrokers: string[];
  mongodbUri: string;
  kafkaVersion: string;
  mongoVersion: string;
  /** Servers this call started (already running ones are reused). */
  started: Array<'kafka' | 'mongo'>;
}

const READY_TIMEOUT_MS = 120_000;

function files(dirs: StackDirs) {
  const root = path.join(dirs.dataDir, 'stack');
  return {
    root,
    state: path.join(root, 'state.json'),
    kafka: { dataDir: path.join(root, 'kafka'), logFile: path.join(root, 'kafka.log'), pidFile: path.join(root, 'kafka.pid') },
    mongo: { dataDir: path.join(root, 'mongo'), logFile: path.join(root, 'mongo.log'), pidFile: path.join(root, 'mongo.pid') },
  };
}

async function readState(file: string): Promise<StackState> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StackState;
  } catch {
    return {};
  }
}

const brokersOf = (state: StackState) => [`127.0.0.1:${state.kafka!.port}`];
const mongoUriOf = (state: StackState) => `mongodb://127.0.0.1:${state.mongo!.port}/`;

/** Installs (first time), starts and awaits the local Kafka broker and MongoDB wire server. Idempotent. */
export async function stackUp(dirs: StackDirs, say: Say = () => {}): Promise<StackInfo> {
  const progress = new Progress(say);
  const f = files(dirs);
  await mkdir(f.root, { recursive: true });
  const state = await readState(f.state);
  const started: StackInfo['started'] = [];

  const kafkaRunning = await readPid(f.kafka.pidFile);
  let mongoRunning = await readPid(f.mongo.pidFile);
  if (mongoRunning === undefined) {
    const serving = await findFerretdbServing(f.mongo.dataDir);
    if (serving) {
      progress.say(`FerretDB (pid ${serving.pid}) already serves ${f.mongo.dataDir} on 127.0.0.1:${serving.port}: using it`);
      await writeFile(f.mongo.pidFile, `${serving.pid}\n`);
      state.mongo = { port: serving.port, kind: 'ferretdb', version: `FerretDB ${FERRETDB_VERSION}` };
      mongoRunning = serving.pid;
    }
  }
  const mongoKind = mongoRunning && state.mongo ? state.mongo.kind : await chooseMongoKind();

  const [kafkaHome, mongoBinary] = await Promise.all([
    kafkaRunning ? undefined : provisionKafka(dirs.cacheDir, progress),
    mongoRunning ? undefined : mongoKind === 'mongod' ? 'mongod' : provisionFerretdb(dirs.cacheDir, progress),
  ]);

  if (!kafkaRunning) {
    // The KRaft log dir remembers its controller address, so keep the ports it was formatted with.
    const previous = state.kafka?.version === KAFKA_VERSION ? state.kafka : undefined;
    const reusable =
      previous !== undefined &&
      existsSync(path.join(f.kafka.dataDir, 'logs', 'meta.properties')) &&
      (await isPortFree(previous.port)) &&
      (await isPortFree(previous.controllerPort));
    const port = reusable ? previous.port : await choosePort(9092);
    const controllerPort = reusable ? previous.controllerPort : await choosePort(9093, [port]);
    state.kafka = { port, controllerPort, version: KAFKA_VERSION };
    const kafka = { home: kafkaHome!, ...f.kafka, ports: state.kafka };
    if (!reusable) {
      await progress.step(`Formatting a new KRaft log dir in ${f.kafka.dataDir}`, 'formatting the Kafka log dir', () => formatKafka(kafka));
    }
    progress.say(`Starting Apache Kafka ${KAFKA_VERSION} (KRaft) on 127.0.0.1:${port}`);
    await startKafka(kafka);
    started.push('kafka');
  }
  if (!mongoRunning) {
    const previousPort = state.mongo?.port;
    const port = previousPort && (await isPortFree(previousPort)) ? previousPort : await choosePort(27017, [state.kafka!.port, state.kafka!.controllerPort]);
    const version = mongoKind === 'mongod' ? 'mongod' : `FerretDB ${FERRETDB_VERSION}`;
    state.mongo = { port, kind: mongoKind, version };
    progress.say(`Starting ${version} on 127.0.0.1:${port}`);
    await startMongo({ kind: mongoKind, binary: mongoBinary!, ...f.mongo, port });
    started.push('mongo');
  }
  await writeFile(f.state, JSON.stringify(state, null, 2));

  // Servers found running are awaited too, but quietly: they are normally ready at once.
  const awaitReady = <T>(justStarted: boolean, what: string, wait: () => Promise<T>) =>
    justStarted ? progress.step(`Waiting for ${what} to answer`, `waiting for ${what}`, wait) : wait();
  const [, mongoVersion] = await Promise.all([
    awaitReady(started.includes('kafka'), `Kafka at ${brokersOf(state)[0]}`, () => waitForKafka(brokersOf(state), READY_TIMEOUT_MS, f.kafka.logFile)),
    awaitReady(started.includes('mongo'), `${state.mongo!.version} at ${mongoUriOf(state)}`, () =>
      waitForMongo(mongoUriOf(state), READY_TIMEOUT_MS, f.mongo.logFile),
    ),
  ]);
  return {
    kafkaBrokers: brokersOf(state),
    mongodbUri: mongoUriOf(state),
    kafkaVersion: `Apache Kafka ${state.kafka!.version}`,
    mongoVersion,
    started,
  };
}

/** Stops only what the stack started (by pid file); data stays for the next `up`. */
export async function stackDown(dirs: StackDirs, only?: Array<'kafka' | 'mongo'>): Promise<string[]> {
  const f = files(dirs);
  const stopped: string[] = [];
  for (const name of only ?? (['kafka', 'mongo'] as const)) {
    if (await stopPid(f[name].pidFile)) stopped.push(name);
  }
  return stopped;
}

export interface ServerStatus {
  running: boolean;
  pid?: number;
  address?: string;
  version?: string;
  logFile: string;
}

export interface StackStatus {
  kafka: ServerStatus;
  mongo: ServerStatus;
}

export async function stackStatus(dirs: StackDirs): Promise<StackStatus> {
  const f = files(dirs);
  const state = await readState(f.state);
  const [kafkaPid, mongoPid] = await Promise.all([readPid(f.kafka.pidFile), readPid(f.mongo.pidFile)]);
  return {
    kafka: {
      running: kafkaPid !== undefined,
      pid: kafkaPid,
      address: state.kafka && brokersOf(state)[0],
      version: state.kafka && `Apache Kafka ${state.kafka.version}`,
      logFile: f.kafka.logFile,
    },
    mongo: {
      running: mongoPid !== undefined,
      pid: mongoPid,
      address: state.mongo && mongoUriOf(state),
      version: state.mongo?.version,
      logFile: f.mongo.logFile,
    },
  };
}
