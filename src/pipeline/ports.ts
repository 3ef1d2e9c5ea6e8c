import type { ChangeMark } from '../domain/change-mark.js';
import type { DomainError } from '../domain/errors.js';
import type { ValidEvent } from '../domain/event.js';
import type { AttemptOutcome } from '../domain/retry-policy.js';
import type { SignatureScheme } from '../domain/signing.js';
import type { HealthState } from '../domain/endpoint-health.js';
import type { OperationalEvent } from '../domain/operational-events.js';
import type { TraceContext } from '../domain/trace-context.js';

/**
 * The records and the small interfaces the pipeline and the API need. `store/`, `bus/` and
 * `dispatch/` implement them; only `main.ts` knows which implementation serves which port.
 */

export type WebhookStatus = 'active' | 'disabled';
export type DeliveryStatus = 'pending' | 'succeeded' | 'retrying' | 'failed';

export interface SigningSecret {
  secret: string;
  /** null for the current secret; set on a rotated-out one that still signs until then. */
  expiresAt: Date | null;
}

export interface WebhookRecord {
  id: string;
  workspace: string;
  url: string;
  events: string[];
  /** null = every agent of the workspace. */
  agent: string | null;
  description: string;
  status: WebhookStatus;
  /** Newest first. */
  secrets: SigningSecret[];
  /** The signature headers its deliveries carry. */
  signatureScheme: SignatureScheme;
  createdAt: Date;
  updatedAt: Date;
  /** Why the service disabled it (sustained failure, 410 Gone); '' or absent otherwise. */
  disabledReason?: string;
  disabledAt?: Date | null;
  /** When it was last enabled through the API: earlier failures are no part of its failure streak. */
  enabledAt?: Date | null;
}

export interface AttemptRecord {
  number: number;
  startedAt: Date;
  durationMs: number;
  /** 0 when no response arrived. */
  responseStatus: number;
  /** At most 1 KiB. */
  responseBodyExcerpt: string;
  error: string;
  manual: boolean;
}

export interface DeliveryRecord {
  id: string;
  workspace: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  agent: string | null;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastResponseStatus: number;
  lastError: string;
  /** The exact JSON body POSTed (and signed). */
  payload: string;
  attempts: AttemptRecord[];
  createdAt: Date;
  updatedAt: Date;
}

/** A domain event after validation, with the trace it was published or read in, if any. */
export type DomainEvent = ValidEvent & {
  trace?: TraceContext;
  /**
   * Accepted by an instance that changed the workspace's webhooks moments before: the matcher reads
   * them again first, wherever it runs (the record's `x-humiris-webhooks-changed` header).
   */
  webhooksChanged?: boolean;
};

export interface Page<T> {
  items: T[];
  /** Empty when there is no further page. */
  nextCursor: string;
}

/** What the matcher and dispatcher read of webhooks (store/webhook-store.ts implements it). */
export interface WebhookLookup {
  /** By id in its workspace; null once deleted. */
  getById(workspace: string, id: string): Promise<WebhookRecord | null>;
  /** Every active webhook of the workspace. */
  listActive(workspace: string): Promise<WebhookRecord[]>;
  /** Moves, or settles, whenever a webhook of the workspace changes; a cheap read, so caches can check it often. */
  changeMark(workspace: string): Promise<ChangeMark>;
  /**
   * When this instance last answered a change of the workspace's webhooks (performance.now()),
   * while other instances may not have read it yet; undefined otherwise. Read from memory.
   */
  changedAt(workspace: string): number | undefined;
}

/** The webhooks an event goes to (pipeline/webhook-cache.ts implements it over a WebhookLookup). */
export interface Subscriptions {
  /** `readAfter`: the webhooks come from a read begun after this time (performance.now()), not from an older copy. */
  findMatching(workspace: string, eventType: string, agent: string | null, readAfter?: number): Promise<WebhookRecord[]>;
}

/** The webhook a task is sent to, as it stands (pipeline/webhook-cache.ts implements it). */
export interface DeliveryTargets {
  webhookFor(workspace: string, webhookId: string): Promise<WebhookRecord | null>;
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
}

/** What the API reads of deliveries (store/delivery-store.ts implements it). */
export interface DeliveryReader {
  /** Newest first; `attempts` and `payload` may be left empty in list items. */
  list(workspace: string, webhookId: string, filter: DeliveryFilter, pageSize: number, cursor: string): Promise<Page<DeliveryRecord>>;
  get(workspace: string, webhookId: string, deliveryId: string): Promise<DeliveryRecord | null>;
  /**
   * The webhook's `failed` deliveries created in [since, until), oldest first, in chunks of a
   * bounded size, each chunk's statuses read when it is yielded; `attempts` filled, `payload`
   * left empty (tasks made from them carry none). One pass, one store call at a time: a bulk
   * recovery must not take the connections other workspaces' requests need.
   */
  failedDeliveries(workspace: string, webhookId: string, since: Date, until: Date): AsyncIterable<DeliveryRecord[]>;
  /** The deliveries of these ids that are stored, as they stand (any workspace), in any order; `payload` left empty. */
  byIds(deliveryIds: string[]): Promise<DeliveryRecord[]>;
  /**
   * The webhook's deliveries per UTC hour by status, for the `hours` hours ending with the one of
   * `now`, oldest first, from summaries written within about a second of each change.
   */
  countsByHour(workspace: string, webhookId: string, hours: number, now?: number): Promise<HourCounts[]>;
}

/** One UTC hour of a webhook's deliveries (created in it), counted by their status as it stands. */
export interface HourCounts {
  start: Date;
  succeeded: number;
  retrying: number;
  pending: number;
  failed: number;
}

/** What the API asks of the pipeline (pipeline/ implements it). */
export interface DeliveryActions {
  /** Writes a validated event to its event-type topic. */
  publishEvent(event: DomainEvent): Promise<void>;
  /** Writes validated events in one produce; per event, in order: null once written, or why not. */
  publishEvents(events: DomainEvent[]): Promise<Array<DomainError | null>>;
  /** Queues one immediate manual attempt; returns the delivery as it stands. */
  retry(delivery: DeliveryRecord): Promise<DeliveryRecord>;
  /**
   * RetryDelivery for many deliveries at once (bulk recovery, DLQ redrive): one manual attempt
   * each, claimed as RetryDelivery claims it, so a delivery whose replay is in progress is
   * skipped rather than sent twice. Tasks carry no body (the dispatcher reads it by event).
   */
  retryMany(deliveries: DeliveryRecord[]): Promise<{ queued: DeliveryRecord[]; skipped: DeliveryRecord[] }>;
  /** Creates a `webhook.test` delivery for this webhook only and queues it. */
  sendTestEvent(webhook: WebhookRecord): Promise<DeliveryRecord>;
}

/**
 * One replay per (delivery, attempt number): concurrent RetryDelivery calls of a delivery make
 * one send (store/replay-claims.ts implements it).
 */
export interface ReplayClaims {
  /** True for the one caller that claims `attempt` of the delivery; false when it is claimed already. */
  claim(deliveryId: string, attempt: number): Promise<boolean>;
  /** claim() for many at once; per item, in order, whether it was claimed. */
  claimMany(claims: Array<{ deliveryId: string; attempt: number }>): Promise<boolean[]>;
  /** Gives a claim back whose attempt could not be queued. */
  release(deliveryId: string, attempt: number): Promise<void>;
}

export type RecoveryStatus = 'running' | 'done';

/** A bulk recovery of one webhook's failed deliveries created in [since, until). */
export interface RecoveryRecord {
  /** `rcv_…`, named after workspace, webhook and window (domain/ids.ts recoveryId). */
  id: string;
  workspace: string;
  webhookId: string;
  since: Date;
  until: Date;
  status: RecoveryStatus;
  found: number;
  queued: number;
  skipped: number;
  /** The last delivery handled (creation time and id), where a resumed job goes on from. */
  cursor: { createdAt: Date; id: string } | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** Recovery jobs, one document each by id (store/recovery-store.ts implements it). */
export interface RecoveryJobs {
  /** Stores the job unless one of its id exists; returns the stored one and whether it is new. */
  create(job: RecoveryRecord): Promise<{ job: RecoveryRecord; created: boolean }>;
  get(id: string): Promise<RecoveryRecord | null>;
  /** Writes the job's progress (counts, cursor, status). */
  save(job: RecoveryRecord): Promise<void>;
}

/** One unit of dispatch work, carried by the deliveries topic and the retry topics. */
export interface DeliveryTask {
  deliveryId: string;
  webhookId: string;
  workspace: string;
  eventId: string;
  eventType: string;
  agent: string | null;
  /**
   * The exact body to POST; null when it is read from the event's stored body instead (a large
   * fan-out, whose tasks would otherwise carry the same body thousands of times through Kafka).
   */
  payload: string | null;
  /** Number of the attempt to make (1 = first). */
  attempt: number;
  /** Not to be attempted before this (epoch ms); 0 = now. */
  dueAt: number;
  /** Made by RetryDelivery: one attempt, never a new retry chain. */
  manual: boolean;
  /** Earlier attempts, so the dead-letter record needs no read-back. */
  attempts: AttemptRecord[];
  createdAt: number;
  /** When the task first found its webhook disabled (epoch ms); absent while it has not. */
  pausedSince?: number;
  /** Why it was last held back without an attempt, as recorded: the same reason again is not recorded again. */
  heldBack?: string;
  /** The trace of the event's match: every attempt, retries included, is a span in it. */
  trace?: TraceContext;
}

/** A task whose body is at hand. */
export type ResolvedTask = DeliveryTask & { payload: string };

/** A delivery that failed every attempt, as operators read it on the dead-letter topic. */
export interface DeadLetter {
  task: ResolvedTask;
  attempts: AttemptRecord[];
  failedAt: Date;
  lastError: string;
}

/** Where work goes next (bus/task-queue.ts implements it on Kafka). */
export interface TaskQueue {
  enqueue(tasks: DeliveryTask[]): Promise<void>;
  /** To the retry topic of schedule step `step` (0-based). */
  scheduleRetry(step: number, task: DeliveryTask): Promise<void>;
  deadLetter(letter: DeadLetter): Promise<void>;
  publishEvent(event: DomainEvent): Promise<void>;
  publishEvents(events: DomainEvent[]): Promise<Array<DomainError | null>>;
}

/**
 * What one attempt, or a decision not to make one, ended in. Outcomes are only ever appended;
 * a delivery's state is its record folded with its outcomes (pipeline/delivery-state.ts).
 */
export interface DeliveryOutcome {
  /** Chosen before the first write, so writing the same outcome again stores it once. */
  id: string;
  deliveryId: string;
  workspace: string;
  webhookId: string;
  eventId: string;
  /** The attempt this outcome ends: a later attempt's outcome is the newer one. */
  number: number;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  attempt?: AttemptRecord;
  /** Why the delivery ended without an attempt (the webhook was deleted or disabled). */
  lastError?: string;
  recordedAt: Date;
}

/** What inserting one event's deliveries found. */
export interface PendingInsert {
  /** Deliveries whose (webhook, event) pair was stored already, as they stand, with their source. */
  existing: Array<DeliveryRecord & { source: string }>;
  /**
   * Set when the workspace already has an event of this id with another type, agent or data:
   * the source of that first event. Nothing was inserted.
   */
  conflictWith?: string;
  /**
   * Set when another record (this source) of the same event stored it first: that record's source.
   * Nothing was inserted or looked up: that record is committed only once its deliveries are all
   * stored and queued, or it is matched again.
   */
  duplicateOf?: string;
}

/** What the pipeline writes of deliveries (store/delivery-store.ts implements it). */
export interface DeliveryWriter {
  /**
   * Inserts one event's new deliveries and its body, remembering the record they came from
   * (`topic:partition:offset`). `digest` names the event's content (eventDigest in domain/event.ts).
   * `onStored`, when given, may be called with parts of a large fan-out as they land, new and pending:
   * those are not in the answer's `existing`, and their tasks can go while the rest is written.
   */
  insertPending(records: DeliveryRecord[], source: string, digest: string, onStored?: (part: DeliveryRecord[]) => void): Promise<PendingInsert>;
  recordOutcomes(outcomes: DeliveryOutcome[]): Promise<void>;
}

/** Stored event bodies, for tasks that do not carry theirs (store/delivery-store.ts implements it). */
export interface EventBodies {
  /** null when no body of that event is stored; `deliveryId`: one of the event's deliveries, whose hour is read first. */
  bodyOf(workspace: string, eventId: string, deliveryId?: string): Promise<string | null>;
}

export interface SendRequest {
  url: string;
  /** Sent as is: the exact bytes that were signed. */
  body: string;
  headers: Record<string, string>;
}

export interface SendResult extends AttemptOutcome {
  durationMs: number;
  /** First 1 KiB of the response body, UTF-8, never a cut character. */
  bodyExcerpt: string;
}

/** Outgoing HTTP (dispatch/http-sender.ts implements it). */
export interface Sender {
  send(request: SendRequest): Promise<SendResult>;
}

/** What the dispatcher tells of each attempt and dead letter (pipeline/endpoint-health.ts implements it). */
export interface DispatchObserver {
  /** After each attempt, before its outcome is recorded; resolves quickly unless it disables the webhook. */
  attempted(webhook: WebhookRecord, task: DeliveryTask, result: SendResult, finishedAt: Date): Promise<void>;
  /** Once a dead-letter record is written. */
  deadLettered(letter: DeadLetter): void;
}

/** Failure streaks by webhook id, one small document each (store/webhook-health-store.ts implements it). */
export interface HealthStates {
  /** The stored streaks of these webhooks, in one read; a webhook without a streak is absent. */
  load(webhookIds: readonly string[]): Promise<Map<string, HealthState>>;
  /** Writes the streaks given, removes the ids given with null (no streak left); one batch. */
  save(states: Array<{ webhookId: string; workspace: string; state: HealthState | null }>): Promise<void>;
}

/** Disables a webhook on the service's own account (store/webhook-store.ts implements it). */
export interface WebhookDisabler {
  /** The webhook as disabled, or null when it was no longer active (disabled or deleted meanwhile). */
  disableFor(workspace: string, webhookId: string, reason: string, at: Date): Promise<WebhookRecord | null>;
}

/** The operational topic (bus/task-queue.ts implements it). */
export interface OperationalTopic {
  publishOperational(event: OperationalEvent): Promise<void>;
}

export type SpanAttributes = Record<string, string | number | boolean>;

/** A span in progress, as the pipeline sees it. */
export interface TraceSpan {
  /** This span as the parent of the next hop (a webhook receiver, a task). */
  readonly context: TraceContext;
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed; `reason` must carry no secret. */
  fail(reason: string): void;
}

export interface SpanOptions {
  /** Absent: the span starts a new trace. */
  parent?: TraceContext;
  kind?: 'internal' | 'client';
  attributes?: SpanAttributes;
}

/** Spans of the pipeline's steps (tracing/ implements it; a no-export one still passes contexts on). */
export interface Tracing {
  /** Runs `work` in a span that ends when it settles; a throw marks the span failed and is rethrown. */
  inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T>;
}
