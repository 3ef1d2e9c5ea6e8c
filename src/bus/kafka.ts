import { createRequire } from 'node:module';
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log/logger.js';
import { useFetchSessions } from './fetch-sessions.js';
import { SettlingErrors } from './kafka-log.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** kafkajs's own pause between checks of requests it holds back. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/** A module of kafkajs's own (as 2.2.4 lays them out); undefined where another kafkajs moved it, which then keeps its own behaviour. */
function kafkajsModule<T>(path: string): T | undefined {
  try {
    return createRequire(import.meta.url)(`kafkajs/src/${path}`) as T;
  } catch {
    return undefined;
  }
}

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/**
 * kafkajs 2.2.4 re-arms a timer after every response even when no request waits: its request queue
 * starts with throttledUntil = -1, so the timeout is negative and runs after 1 ms, again and again,
 * and every connection wakes the process about 1,000 times a second, idle or busy (tulios/kafkajs#1556;
 * Node 24 also warns of each negative timeout). A check is armed only when a request waits or the
 * broker throttles the client, as the fix proposed upstream does. Requests held back still get theirs.
 */
let requestChecksFixed = false;
function armRequestChecksOnlyWhenNeeded(): void {
  if (requestChecksFixed) return;
  requestChecksFixed = true;
  const RequestQueue = kafkajsModule<{ prototype: RequestQueueInternals }>('network/requestQueue/index.js');
  // A kafkajs whose queue no longer looks like 2.2.4's keeps its own behaviour.
  if (typeof RequestQueue?.prototype?.scheduleCheckPendingRequests !== 'function' || typeof RequestQueue.prototype.checkPendingRequests !== 'function') return;
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    const untilUnthrottled = this.throttledUntil - Date.now();
    if (this.pending.length === 0 && untilUnthrottled <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
}

/**
 * Reconnects at most 2 s apart (Kafka's Java client: 1 s), for about as long as 10 tries up to 10 s
 * apart took: once a broker is back, the pipeline caught up in 0.4–2.1 s instead of 4.6–9.9 s (README).
 * A call (a produce, an admin request) then fails instead of waiting on.
 */
const BOUNDED_RETRY = { initialRetryTime: 300, retries: 30, maxRetryTime: 2_000 };
/**
 * Consumers try the same way for as long as Kafka is away. One whose client gives up crashes, and
 * the consumer kafkajs starts in its place joins its group as a new member, which the broker holds
 * back until the member it replaces times out (the session timeout) once the group is loaded again:
 * after a 70 s outage the pipeline caught up 10.4–10.9 s after the broker was back. A consumer that
 * keeps trying keeps its member id, and its group goes on where it stopped.
 */
const CONSUMER_RETRY = { ...BOUNDED_RETRY, retries: Number.MAX_SAFE_INTEGER };

export interface KafkaClientOptions {
  clientId?: string;
  /** `consumers`: a client whose calls never give up while Kafka is away (CONSUMER_RETRY). */
  for?: 'calls' | 'consumers';
}

interface BrokerPoolInternals {
  brokers: Record<string, unknown>;
  metadataExpireAt: number | null;
  removeBroker(address: { host: string; port: number }): void;
}

/**
 * kafkajs drops a broker from its pool when the broker closes the connection (as a broker that
 * stops does), and a consumer whose pool is then empty gives up at once (`No broker available`,
 * tried never again): kafkajs starts another in its place, which joins its group as a new member
 * and waits out the session of the one it replaces (10 s) once the broker is back. The last broker
 * is kept instead, its metadata marked for a refresh as a removal does, so the consumer goes on
 * trying it (fault test: the 70 s Kafka outage on a loaded machine caught up 10–11 s after the
 * broker was back when a consumer had crashed so).
 */
let lastBrokerKept = false;
function keepLastBroker(): void {
  if (lastBrokerKept) return;
  lastBrokerKept = true;
  const BrokerPool = kafkajsModule<{ prototype: BrokerPoolInternals }>('cluster/brokerPool.js');
  const remove = BrokerPool?.prototype?.removeBroker;
  if (!BrokerPool || typeof remove !== 'function') return;
  BrokerPool.prototype.removeBroker = function (this: BrokerPoolInternals, address) {
    if (Object.keys(this.brokers ?? {}).length > 1) return remove.call(this, address);
    this.metadataExpireAt = null;
  };
}

/** A kafkajs client, its consumers fetching in sessions (fetch-sessions.ts), logging through pino; errors of a settling broker or topic stay at debug unless they persist. */
export function createKafka(brokers: string[], logger: Logger, { clientId = 'humiris-webhooks', for: use = 'calls' }: KafkaClientOptions = {}): Kafka {
  armRequestChecksOnlyWhenNeeded();
  keepLastBroker();
  useFetchSessions();
  const log = logger.child({ component: 'kafka' });
  const settling = new SettlingErrors();
  return new Kafka({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const { level: as, failingForMs } = settling.level(LEVELS[level] ?? 'info', [message, rest.error]);
        log[as](failingForMs === undefined ? rest : { ...rest, failingForMs }, message);
      },
    retry: use === 'consumers' ? CONSUMER_RETRY : BOUNDED_RETRY,
  });
}
