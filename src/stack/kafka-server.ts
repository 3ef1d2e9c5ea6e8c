import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { requireCommand, run, spawnDetached, waitFor } from './process.js';
import type { Progress } from '../log/progress.js';

/** Apache Kafka from Maven Central, run on the machine's Java as one KRaft broker+controller. */
export const KAFKA_VERSION = '4.4.0';

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>humiris.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <!-- routes the broker's slf4j logging to log4j2, so its log file says why it stopped -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
`;

const LOG4J = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
`;

export interface KafkaPorts {
  port: number;
  controllerPort: number;
}

function kafkaHome(cacheDir: string): string {
  return path.join(cacheDir, `kafka-${KAFKA_VERSION}`);
}

/** Resolves the broker's jars once into the cache; later calls reuse them. */
export async function provisionKafka(cacheDir: string, progress: Progress): Promise<string> {
  const home = kafkaHome(cacheDir);
  if (existsSync(path.join(home, '.complete'))) return home;
  await requireCommand('java', 'install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)');
  await requireCommand('mvn', 'install Apache Maven (Debian: apt-get install maven)');
  await progress.step(
    `Resolving Apache Kafka ${KAFKA_VERSION} from Maven Central into ${home} (first run only)`,
    `resolving Apache Kafka ${KAFKA_VERSION}`,
    async () => {
      await rm(home, { recursive: true, force: true });
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, 'pom.xml'), POM);
      await writeFile(path.join(home, 'log4j2.properties'), LOG4J);
      await run('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', '-DoutputDirectory=libs'], {
        cwd: home,
      });
      await writeFile(path.join(home, '.complete'), new Date().toISOString());
    },
  );
  return home;
}

function serverProperties(dataDir: string, { port, controllerPort }: KafkaPorts): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=48
`;
}

export interface KafkaStart {
  home: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
  ports: KafkaPorts;
}

function javaArgs(home: string, main: string, ...args: string[]): string[] {
  return [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(home, 'log4j2.properties')}`,
    '-cp',
    path.join(home, 'libs', '*'),
    main,
    ...args,
  ];
}

/** Wipes the broker's data dir and formats a new KRaft log dir (new ports or first start). */
export async function formatKafka({ home, dataDir, ports }: KafkaStart): Promise<void> {
  const logDir = path.join(dataDir, 'logs');
  const propertiesFile = path.join(dataDir, 'server.properties');
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  await writeFile(propertiesFile, serverProperties(logDir, ports));
  const clusterId = (await run('java', javaArgs(home, 'kafka.tools.StorageTool', 'random-uuid'))).trim().split('\n').pop()!;
  await run('java', javaArgs(home, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', propertiesFile));
}

export async function startKafka(options: KafkaStart): Promise<number> {
  return spawnDetached('java', javaArgs(options.home, 'kafka.Kafka', path.join(options.dataDir, 'server.properties')), options);
}

/** Ready when the broker answers metadata requests. */
export async function waitForKafka(brokers: string[], timeoutMs: number, logFile?: string): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: 'humiris-stack', logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  await waitFor(
    `Kafka at ${brokers.join(',')}`,
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return cluster.brokers.length > 0;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    timeoutMs,
    logFile,
  );
}
