import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import type { Logger } from '../log/logger.js';
import { OffsetTracker } from './offset-tracker.js';
import { StallWatch } from './stall-watch.js';
import type { Semaphore } from '../pipeline/semaphore.js';

export interface WorkerMessage {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  /** When its batch was fetched (performance.now()): what is read after it is newer than the record. */
  receivedAt: number;
}

/**
 * Work a handler started that must end before its message is committed, but that holds none of
 * the consumer's slots meanwhile: the consumer goes on reading. Rejected: the message is handled
 * again (and stays uncommitted until that ends), as a throw would be.
 */
export interface Held {
  held: Promise<void>;
}

/** Heartbeat answers that end this member's generation: it must rejoin its group before going on. */
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
const mustRejoin = (error: unknown): boolean => REJOIN.has((error as { type?: string } | null)?.type ?? '');

/** What a handler that holds nothing leaves: one for all its messages. */
const NOTHING_HELD: Held = { held: Promise.resolve() };

export interface WorkerConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  logger: Logger;
  /** Bounds messages handled at once; share one between consumers to bound the whole process. */
  semaphore: Semaphore;
  /** Must be idempotent enough to repeat: a throw is retried with backoff, never skipped. */
  handle(message: WorkerMessage): Promise<void | Held>;
  /** Delayed topics: the epoch ms a message is due. Its partition pauses until then. */
  dueAt?(message: WorkerMessage): number;
  /** How long stop() waits for in-flight work before handing it back uncommitted. */
  drainTimeoutMs: number;
  /** The longest one fetch waits for records: a partition resumed meanwhile is fetched after it [1 s]. */
  fetchWaitMs?: number;
  /** How long without starting a fetch before the consumer logs where it is stuck [STALL_WARN_MS]. */
  stallWarnMs?: number;
}

export interface WorkerConsumer {
  /** Whether this member is assigned the partition now. */
  owns(topic: string, partition: number): boolean;
  stop(): Promise<void>;
}

const COMMIT_INTERVAL_MS = 500;
/** The pause before a message is handled again: a failing handler's, or failed held work's. */
const retryDelayMs = (attempt: number) => Math.min(200 * 2 ** attempt, 10_000);
/** A consumer that has not started a fetch for this long says where it is stuck (stall-watch.ts). */
export const STALL_WARN_MS = 60_000;
/**
 * Fetches are long polls: the broker answers as soon as a record arrives, so a long wait costs
 * new records nothing and saves an idle service most of its fetch round trips.
 */
const LONG_POLL_MS = 1_000;

/**
 * A consumer group member that handles messages concurrently (bounded), commits each
 * partition only up to its lowest unfinished message, and waits for due times by pausing
 * the partition — never by sleeping in a handler, so heartbeats keep flowing.
 */
export async function startWorkerConsumer(options: WorkerConsumerOptions): Promise<WorkerConsumer> {
  const { kafka, groupId, topics, handle, dueAt } = options;
  const log = options.logger.child({ component: 'consumer', group: groupId });
  const { semaphore } = options;
  const trackers = new Map<string, OffsetTracker>();
  const resumeTimers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopping = false;

  const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  let assigned = new Set<string>();
  const trackerFor = (topic: string, partition: number) => {
    const key = partitionKey(topic, partition);
    let tracker = trackers.get(key);
    if (!tracker) trackers.set(key, (tracker = new OffsetTracker()));
    return tracker;
  };

  const committed = new Map<string, string>();
  async function commit(): Promise<void> {
    const offsets = [];
    for (const [key, tracker] of trackers) {
      const offset = tracker.committable();
      if (offset === undefined || committed.get(key) === offset) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      offsets.push({ topic, partition: Number(partition), offset, key });
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets.map(({ key: _key, ...rest }) => rest));
      for (const { key, offset } of offsets) committed.set(key, offset);
    } catch (error) {
      // A rebalance took the partition away: its new owner starts from the last commit.
      log.debug({ err: error }, 'commit skipped');
    }
  }
  let committing = Promise.resolve();
  const commitTimer = setInterval(() => {
    committing = committing.then(commit);
  }, COMMIT_INTERVAL_MS);

  const stallWarnMs = options.stallWarnMs ?? STALL_WARN_MS;
  const stalls = new StallWatch(stallWarnMs);
  const stallTimer = setInterval(() => {
    const stall = stopping ? undefined : stalls.check();
    if (!stall) return;
    const state = { stuckIn: stall.phase, sinceFetchMs: Math.round(stall.sinceFetchMs), inFlight: running.size, partitions: assigned.size };
    log.warn(state, 'consumer has not fetched for a while');
  }, Math.min(10_000, stallWarnMs));
  stallTimer.unref();

  /** Consecutive clients started since one last joined the group: the wait before the next grows with it. */
  let replacements = 0;
  let replaceTimer: NodeJS.Timeout | undefined;
  /** A replacement under way: stop() waits for it, so the client it starts is the one stopped. */
  let replacing: Promise<void> | undefined;

  /**
   * A kafkajs consumer and how this member follows it. kafkajs restarts a consumer after errors it
   * deems retriable; after one it does not (a join refused, an unknown server error around a broker
   * restart), its consumer stays stopped for good while the process runs on: that member's
   * partitions would go unread by this process. It is replaced by a new client instead, with a
   * growing wait, until one joins; in-flight work and its offsets carry over.
   */
  function newConsumer(): Consumer {
    const client = kafka.consumer({
      groupId,
      // A member that died (kill -9) hands its partitions over within this, and a consumer kafkajs
      // restarts after a crash joins as a new member that waits this long for the one it replaces.
      // Shorter would put a process short of CPU out of its group sooner (Kafka's own default is 45 s).
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: options.fetchWaitMs ?? LONG_POLL_MS,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    client.on(client.events.GROUP_JOIN, ({ payload }) => {
      // Keep the trackers of partitions this member still owns: their in-flight work must keep
      // holding the commit back. Forget the others, so this member never commits for a partition
      // another member now owns.
      const owned = new Set(
        Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => partitionKey(topic, p))),
      );
      assigned = owned;
      for (const key of [...trackers.keys()]) {
        if (!owned.has(key)) {
          trackers.delete(key);
          committed.delete(key);
        }
      }
      replacements = 0;
      log.info({ memberId: payload.memberId, assignment: payload.memberAssignment }, 'joined group');
    });
    client.on(client.events.CRASH, ({ payload }) => {
      stalls.enter('restarting after a crash');
      // Until it joins again, its partitions may be another member's: the matcher queues through Kafka meanwhile.
      assigned = new Set();
      log.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart && client === consumer) replaceLater();
    });
    client.on(client.events.REBALANCING, () => stalls.enter('rejoining the group'));
    client.on(client.events.FETCH_START, () => {
      const ended = stalls.fetched();
      if (ended) log.info({ stuckIn: ended.phase, sinceFetchMs: Math.round(ended.sinceFetchMs) }, 'consumer fetching again');
    });
    client.on(client.events.FETCH, () => stalls.enter('handling records'));
    return client;
  }

  async function begin(client: Consumer): Promise<void> {
    await client.connect();
    await client.subscribe({ topics, fromBeginning: true });
    await client.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 4, eachBatch });
  }

  function replaceLater(): void {
    if (stopping || replaceTimer) return;
    const waitMs = Math.min(1_000 * 2 ** replacements, 30_000);
    replacements++;
    log.error({ waitMs }, 'consumer stopped by its Kafka client; starting a new one');
    replaceTimer = setTimeout(() => {
      replaceTimer = undefined;
      replacing = replace().finally(() => (replacing = undefined));
    }, waitMs);
  }

  async function replace(): Promise<void> {
    // Swapped first: whatever the old client emits while it disconnects is no longer this member's.
    const old = consumer;
    consumer = newConsumer();
    await old.disconnect().catch(() => {});
    if (stopping) return;
    try {
      await begin(consumer);
    } catch (error) {
      log.error({ err: error }, 'could not start a new consumer');
      replaceLater();
    }
  }

  let consumer = newConsumer();

  /**
   * Handles a message, holding one of the semaphore's slots (taken by the caller) until the handler
   * returns, then waits for what it left running. Held work that fails is handled again, with a slot
   * of its own: left as it was, its offset would hold the partition's commit back for as long as the
   * process runs. False when stopping first (left uncommitted, read again by the next owner).
   */
  async function handleToTheEnd(message: WorkerMessage): Promise<boolean> {
    for (let round = 0; ; round++) {
      const handled = await handleUntilDone(message);
      semaphore.release();
      if (!handled) return false;
      try {
        await handled.held;
        return true;
      } catch (error) {
        const retryInMs = retryDelayMs(round);
        log.warn({ err: error, topic: message.topic, partition: message.partition, offset: message.offset, retryInMs }, 'held work failed, handling the message again');
        await sleep(retryInMs);
        if (stopping || !(await semaphore.acquire(async () => !stopping))) return false;
      }
    }
  }

  /** What the handler left running once it returned; null when stopping before it could (left uncommitted). */
  async function handleUntilDone(message: WorkerMessage): Promise<Held | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await handle(message)) ?? NOTHING_HELD;
      } catch (error) {
        if (stopping) return null;
        const delay = retryDelayMs(attempt);
        log.warn({ err: error, topic: message.topic, partition: message.partition, offset: message.offset, retryInMs: delay }, 'handler failed, retrying');
        await sleep(delay);
      }
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }: EachBatchPayload) {
    const tracker = trackerFor(batch.topic, batch.partition);
    const receivedAt = performance.now();
    for (const raw of batch.messages) {
      if (stopping || !isRunning() || isStale()) break;
      const message: WorkerMessage = { ...raw, headers: raw.headers ?? {}, topic: batch.topic, partition: batch.partition, receivedAt };
      const due = dueAt?.(message);
      const wait = due === undefined ? 0 : due - Date.now();
      if (wait > 0) {
        const resume = pause();
        const timer = setTimeout(() => {
          resumeTimers.delete(timer);
          resume();
        }, wait);
        resumeTimers.add(timer);
        break;
      }
      const acquired = await semaphore.acquire(async () => {
        stalls.enter('waiting for a free slot');
        // A rebalance completes only once every member rejoined: a member that waited out its slot
        // held the whole group, every partition of it, until the rebalance timed out (60 s).
        const rejoin = await heartbeat().then(
          () => false,
          (error: unknown) => mustRejoin(error),
        );
        return !rejoin && !stopping && isRunning() && !isStale();
      });
      if (!acquired) break;
      tracker.begin(message.offset);
      resolveOffset(message.offset);
      const work = handleToTheEnd(message).then((done) => {
        if (done) tracker.finish(message.offset);
      });
      running.add(work);
      void work.finally(() => running.delete(work));
    }
    await heartbeat().catch(() => {});
  }

  await begin(consumer);
  log.info({ topics: topics.length }, 'consuming');

  return {
    owns: (topic, partition) => assigned.has(partitionKey(topic, partition)),
    async stop() {
      stopping = true;
      clearInterval(stallTimer);
      clearTimeout(replaceTimer);
      for (const timer of resumeTimers) clearTimeout(timer);
      const drained = Promise.all([...running]);
      const timedOut = await Promise.race([drained.then(() => false), sleep(options.drainTimeoutMs, undefined, { ref: false }).then(() => true)]);
      if (timedOut) log.warn({ inFlight: running.size }, 'stopping with work in flight; it will be redelivered');
      clearInterval(commitTimer);
      await replacing;
      await committing;
      await commit();
      await consumer.disconnect();
    },
  };
}
