import { createRequire } from 'node:module';

/** One partition of a fetch request, as kafkajs's consumer builds it. */
export interface FetchPartition {
  partition: number;
  fetchOffset: string;
  maxBytes: number;
}

export interface FetchTopic {
  topic: string;
  partitions: FetchPartition[];
}

/** What one fetch request asks for: the session's fields, and the partitions it names. */
export interface FetchPlan {
  sessionId: number;
  sessionEpoch: number;
  topics: FetchTopic[];
  forgottenTopics: Array<{ topic: string; partitions: number[] }>;
}

/** A session id of 0 with this epoch asks the broker to open a session (KIP-227). */
const OPEN_SESSION = 0;
/** A session id of 0 with this epoch is a plain full fetch, outside any session. */
const NO_SESSION = -1;
const MAX_EPOCH = 2_147_483_647;

type Wanted = Map<string, Map<number, FetchPartition>>;

/**
 * One consumer's fetch session with one broker (Kafka's KIP-227, which kafkajs 2.2.4 does not use).
 * Without it, every fetch names every assigned partition and the answer lists them all, records or
 * not: a matcher on 15 event topics of 6 partitions encodes, decodes and walks 90 partitions per
 * fetch, once per event at a low rate. In a session the broker remembers the partitions and their
 * offsets: a request names only those whose offset moved (or that were added or dropped), and the
 * answer only those with something new. Any error ends the session; the next fetch is a full one
 * that opens another.
 */
export class FetchSession {
  private id = 0;
  private epoch = 0;
  private sent: Wanted = new Map();
  /** The session's request on its way, and the partitions it leaves the broker holding. */
  private pending: { plan: FetchPlan; wanted: Wanted } | undefined;

  /** The request for these partitions; settle() must follow with how it went. */
  plan(topics: FetchTopic[]): FetchPlan {
    // A second fetch while one is out would disorder the epochs: it goes outside the session.
    if (this.pending) return { sessionId: 0, sessionEpoch: NO_SESSION, topics, forgottenTopics: [] };
    const wanted: Wanted = new Map(topics.map(({ topic, partitions }) => [topic, new Map(partitions.map((p) => [p.partition, p]))]));
    const plan: FetchPlan =
      this.id === 0
        ? { sessionId: 0, sessionEpoch: OPEN_SESSION, topics, forgottenTopics: [] }
        : { sessionId: this.id, sessionEpoch: this.epoch >= MAX_EPOCH ? 1 : this.epoch + 1, ...this.changes(wanted) };
    this.pending = { plan, wanted };
    return plan;
  }

  /** `answer` is the response's top-level fields, or undefined when the request failed. */
  settle(plan: FetchPlan, answer: { errorCode?: number; sessionId?: number } | undefined): void {
    if (this.pending?.plan !== plan) return; // a fetch outside the session
    const { wanted } = this.pending;
    this.pending = undefined;
    if (!answer || (answer.errorCode ?? 0) !== 0) {
      this.id = 0;
      this.sent = new Map();
      return;
    }
    if (plan.sessionId === 0) {
      // 0: the broker keeps no session for us (its cache is full); the next fetch asks again.
      this.id = answer.sessionId ?? 0;
      this.epoch = 0;
    } else {
      this.epoch = plan.sessionEpoch;
    }
    this.sent = this.id === 0 ? new Map() : wanted;
  }

  private changes(wanted: Wanted): Pick<FetchPlan, 'topics' | 'forgottenTopics'> {
    const topics: FetchTopic[] = [];
    for (const [topic, partitions] of wanted) {
      const known = this.sent.get(topic);
      const moved: FetchPartition[] = [];
      for (const p of partitions.values()) {
        const before = known?.get(p.partition);
        if (!before || before.fetchOffset !== p.fetchOffset || before.maxBytes !== p.maxBytes) moved.push(p);
      }
      if (moved.length > 0) topics.push({ topic, partitions: moved });
    }
    const forgottenTopics: FetchPlan['forgottenTopics'] = [];
    for (const [topic, known] of this.sent) {
      const kept = wanted.get(topic);
      const dropped: number[] = [];
      for (const partition of known.keys()) if (!kept?.has(partition)) dropped.push(partition);
      if (dropped.length > 0) forgottenTopics.push({ topic, partitions: dropped });
    }
    return { topics, forgottenTopics };
  }
}

type Answer = { errorCode?: number; sessionId?: number; responses?: unknown[] };

/**
 * One fetch through `session`. kafkajs reads partition errors only: an answer whose top-level error
 * says the broker lost the session or refused its epoch comes back with no partitions, and the next
 * fetch opens a new session.
 */
export async function fetchInSession<T extends Answer>(session: FetchSession, topics: FetchTopic[], send: (plan: FetchPlan) => Promise<T>): Promise<T> {
  const plan = session.plan(topics);
  let answer: T | undefined;
  try {
    answer = await send(plan);
  } finally {
    session.settle(plan, answer);
  }
  return (answer.errorCode ?? 0) === 0 ? answer : { ...answer, responses: [] };
}

interface FetchArgs {
  replicaId?: number;
  isolationLevel?: number;
  maxWaitTime?: number;
  minBytes?: number;
  maxBytes?: number;
  topics: FetchTopic[];
  rackId?: string;
}

type VersionedRequest = (args: Record<string, unknown>) => { request: { apiVersion: number } };

interface BrokerInternals {
  fetch(args: FetchArgs): Promise<unknown>;
  lookupRequest(apiKey: number, definitions: unknown): VersionedRequest;
}

/** Fetch requests carry session fields from version 7; kafkajs 2.2.4 speaks up to 11. */
const FIRST_SESSION_VERSION = 7;

let installed = false;

/**
 * Makes every kafkajs consumer fetch within a session per broker (FetchSession). A kafkajs whose
 * internals no longer look like 2.2.4's keeps its own fetch, as does a broker too old for sessions.
 */
export function useFetchSessions(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  let Broker: { prototype: BrokerInternals } | undefined;
  let fetchDefinitions: unknown;
  let fetchKey: number | undefined;
  try {
    Broker = require('kafkajs/src/broker/index.js') as { prototype: BrokerInternals };
    fetchDefinitions = (require('kafkajs/src/protocol/requests/index.js') as { requests: Record<string, unknown> }).requests.Fetch;
    fetchKey = (require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>).Fetch;
  } catch {
    return;
  }
  const proto = Broker?.prototype;
  const sendRequest = proto && Object.getOwnPropertySymbols(proto).find((s) => s.description === 'private:Broker:sendRequest');
  if (!proto || typeof proto.fetch !== 'function' || !sendRequest || !fetchDefinitions || fetchKey === undefined) return;
  const send = sendRequest;
  const key = fetchKey;
  const plainFetch = proto.fetch;
  // null: this broker is too old for sessions, found once.
  const sessions = new WeakMap<object, FetchSession | null>();

  proto.fetch = async function (this: BrokerInternals & Record<symbol, (request: unknown) => Promise<Answer>>, args: FetchArgs) {
    const versioned = this.lookupRequest(key, fetchDefinitions);
    const { replicaId, isolationLevel, maxWaitTime = 5000, minBytes = 1, maxBytes = 10_485_760, topics, rackId = '' } = args;
    const build = (plan: FetchPlan) => versioned({ replicaId, isolationLevel, maxWaitTime, minBytes, maxBytes, rackId, ...plan });
    let session = sessions.get(this);
    if (session === undefined) {
      const version = build({ sessionId: 0, sessionEpoch: NO_SESSION, topics: [], forgottenTopics: [] }).request.apiVersion;
      sessions.set(this, (session = version >= FIRST_SESSION_VERSION ? new FetchSession() : null));
    }
    if (session === null) return plainFetch.call(this, args);
    return fetchInSession(session, topics, (plan) => this[send]!(build(plan)));
  };
}
