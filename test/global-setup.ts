import type { TestProject } from 'vitest/node';
import { loadConfig } from '../src/config/config.js';
import { stackDown, stackUp } from '../src/stack/stack.js';
import { ensureChromium } from './helpers/chromium.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    mongodbUri: string;
  }
}

const log = (line: string) => process.stderr.write(`[test servers] ${line}\n`);

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Chooses the servers once for the whole run: KAFKA_BROKERS + MONGODB_URI when set, else
 * testcontainers where a Docker engine answers, else the local stack (started if needed).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Before any test and any server: a machine without the browser fails (or is set up) at once.
  await ensureChromium({ say: (line) => process.stderr.write(`[test setup] ${line}\n`) });
  const { KAFKA_BROKERS, MONGODB_URI } = process.env;
  if (KAFKA_BROKERS && MONGODB_URI) {
    log(`using KAFKA_BROKERS=${KAFKA_BROKERS} MONGODB_URI=${MONGODB_URI}`);
    project.provide('kafkaBrokers', KAFKA_BROKERS);
    project.provide('mongodbUri', MONGODB_URI);
    return async () => {};
  }

  if (await dockerAnswers()) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const { MongoDBContainer } = await import('@testcontainers/mongodb');
    log('Docker answers: starting Kafka and MongoDB containers');
    const [kafka, mongo] = await Promise.all([
      new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start(),
      new MongoDBContainer('mongo:8').start(),
    ]);
    project.provide('kafkaBrokers', `${kafka.getHost()}:${kafka.getMappedPort(9093)}`);
    project.provide('mongodbUri', `${mongo.getConnectionString()}?directConnection=true`);
    return async () => {
      await Promise.all([kafka.stop(), mongo.stop()]);
    };
  }

  const config = loadConfig({ ...process.env, KAFKA_BROKERS: undefined, MONGODB_URI: undefined });
  const started = Date.now();
  const stack = await stackUp(config.stack, log);
  log(`${stack.kafkaVersion} at ${stack.kafkaBrokers.join(',')}; ${stack.mongoVersion} at ${stack.mongodbUri} (${Date.now() - started} ms)`);
  project.provide('kafkaBrokers', stack.kafkaBrokers.join(','));
  project.provide('mongodbUri', stack.mongodbUri);
  return async () => {
    // Leave running what was already running before the tests.
    if (stack.started.length > 0) await stackDown(config.stack, stack.started);
  };
}
