import type { BatcherOptions } from './batcher.js';
import { loopTime } from './loop-time.js';

export interface EndpointLanesOptions {
  /** A send running (or that ran) this long marks its webhook slow. */
  slowAfterMs: number;
  /** How long a webhook stays slow after its last slow send. */
  slowForMs: number;
  /** Sends a webhook may have in flight until it has answered quickly, and again while it is slow. */
  slowLimit: number;
  /** Sends in flight per workspace, whatever its webhooks do; also the most one quick webhook gets. */
  workspaceLimit?: number;
  /** Sends in flight in this process. */
  processLimit?: number;
  /** Tasks of one workspace that may wait for a slot before more are deferred (unless it is sending quickly). */
  workspaceQueue?: number;
  /** Default: the process's loop time, which stands still while this process is held up (loop-time.ts). */
  now?: () => number;
}

/** Send slots from WEBHOOKS_MAX_IN_FLIGHT (README: Send slots, per webhook and per workspace). */
export function laneLimits(maxInFlight: number): EndpointLanesOptions {
  return {
    slowAfterMs: 1_000,
    slowForMs: 30_000,
    slowLimit: Math.max(1, Math.floor(maxInFlight / 50)),
    workspaceLimit: Math.max(1, Math.ceil(maxInFlight / 4)),
    processLimit: maxInFlight,
    workspaceQueue: 2 * maxInFlight,
  };
}

/** Tasks a dispatching process handles at once: its sends, tasks waiting their turn in a lane, and tasks whose outcome waits to be stored. */
export const tasksInHand = (maxInFlight: number): number => 4 * maxInFlight;

/**
 * How finished attempts gather before one insert stores them (store/delivery-store.ts): for up to
 * 150 ms, so a fan-out's outcomes are written after its sends rather than between them, in a few
 * inserts. A task holds its slot until its outcome is stored, so at most half the slots wait for one.
 */
export const outcomeBatching = (maxInFlight: number): Pick<BatcherOptions, 'maxItems' | 'maxDelayMs'> => ({
  maxItems: Math.max(1, Math.floor(tasksInHand(maxInFlight) / 2)),
  maxDelayMs: 150,
});

/** First attempts a process takes in hand beyond tasksInHand, a few per workspace (pipeline/in-hand.ts). */
export const inHandReserve = (maxInFlight: number): { slots: number; perWorkspace: number } => ({
  slots: Math.max(4, Math.ceil(maxInFlight / 4)),
  perWorkspace: Math.max(1, Math.ceil(maxInFlight / 100)),
});

/** Held while a send runs; hand it back to `finish`. */
export interface SendSlot {
  readonly workspace: string;
  readonly webhookId: string;
  readonly token: number;
}

/** A slot, or why the task should come back later instead (the same attempt, through the first retry topic). */
export type Admission = { slot: SendSlot } | { deferred: string };

export const DEFERRED_SLOW_ENDPOINT = 'deferred: slow endpoint';
export const DEFERRED_WORKSPACE_BUSY = 'deferred: workspace at its send limit';

interface Waiter {
  canDefer: boolean;
  resolve(admission: Admission): void;
  reject(error: Error): void;
}

interface WebhookLane {
  id: string;
  workspace: WorkspaceLane;
  /** Start times of the sends in flight by token, oldest first (a Map keeps insertion order). */
  inFlight: Map<number, number>;
  waiting: Waiter[];
  slowUntil: number;
  /** When a send of it last finished quickly (0: never). */
  quickAt: number;
  touchedAt: number;
}

interface WorkspaceLane {
  name: string;
  inFlight: Map<number, number>;
  /** Its webhooks with tasks waiting, in turn order. */
  waitingHooks: Set<WebhookLane>;
  waitingCount: number;
  quickAt: number;
  /** When a send of it last started. */
  startedAt: number;
  webhooks: Map<string, WebhookLane>;
}

const SWEEP_MS = 100;
/** Waiting tasks deferred per sweep, at most. */
const DEFERRALS_PER_SWEEP = 25;
/** Idle lanes are forgotten every this many sweeps. */
const FORGET_EVERY = 20;

/**
 * Bounds sends per webhook, per workspace and per process from the first request, so endpoints
 * that hang hold a bounded share of the slots and never stall other workspaces.
 *
 * A webhook gets `slowLimit` sends at once until one of its sends has finished within
 * `slowAfterMs`, then up to its workspace's limit; while slow (a send has run `slowAfterMs`, or
 * did within `slowForMs`) it is back to `slowLimit`. A task over a limit waits in its webhook's
 * FIFO while its lane moves, and is deferred instead when its webhook is slow and holds its
 * share, when its workspace's slots are all taken and none turned over for `slowAfterMs`, or when
 * too many of its workspace's tasks wait while the workspace is not answering quickly.
 */
export class EndpointLanes {
  private readonly workspaces = new Map<string, WorkspaceLane>();
  /** Workspaces with waiting tasks, in turn order. */
  private readonly waitingWorkspaces = new Set<WorkspaceLane>();
  private readonly now: () => number;
  private readonly workspaceLimit: number;
  private readonly processLimit: number;
  private readonly workspaceQueue: number;
  private sending = 0;
  private nextToken = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeps = 0;

  constructor(private readonly options: EndpointLanesOptions) {
    this.now = options.now ?? loopTime.now;
    this.workspaceLimit = options.workspaceLimit ?? Infinity;
    this.processLimit = options.processLimit ?? Infinity;
    this.workspaceQueue = options.workspaceQueue ?? Infinity;
  }

  /**
   * A slot now, or once its turn comes; or a reason to defer the task. `canDefer` false (no retry
   * topic to defer to) always waits. Rejects when `close` gives the waiting tasks back.
   */
  admit(workspace: string, webhookId: string, canDefer = true): Promise<Admission> {
    const now = this.now();
    const hook = this.webhookLane(workspace, webhookId, now);
    if (hook.waiting.length === 0 && this.hasRoom(hook, now)) return Promise.resolve({ slot: this.start(hook, now) });
    const reason = canDefer ? this.deferral(hook, now) : null;
    if (reason) return Promise.resolve({ deferred: reason });
    return new Promise<Admission>((resolve, reject) => {
      hook.waiting.push({ canDefer, resolve, reject });
      const lane = hook.workspace;
      lane.waitingCount++;
      lane.waitingHooks.add(hook);
      this.waitingWorkspaces.add(lane);
      this.ensureSweeper();
    });
  }

  finish(slot: SendSlot): void {
    const lane = this.workspaces.get(slot.workspace);
    const hook = lane?.webhooks.get(slot.webhookId);
    const startedAt = hook?.inFlight.get(slot.token);
    if (!lane || !hook || startedAt === undefined) return;
    hook.inFlight.delete(slot.token);
    lane.inFlight.delete(slot.token);
    this.sending--;
    const now = this.now();
    hook.touchedAt = now;
    if (now - startedAt >= this.options.slowAfterMs) hook.slowUntil = now + this.options.slowForMs;
    else hook.quickAt = lane.quickAt = now;
    this.grant(now);
  }

  /** Whether a send to this webhook has run slow within `slowForMs`, or runs slow now. */
  isSlowNow(workspace: string, webhookId: string): boolean {
    const hook = this.workspaces.get(workspace)?.webhooks.get(webhookId);
    return hook !== undefined && this.isSlow(hook, this.now());
  }

  /** Sends in flight and tasks waiting, for tests and logs. */
  counts(workspace?: string): { sending: number; waiting: number } {
    if (workspace === undefined) {
      let waiting = 0;
      for (const lane of this.workspaces.values()) waiting += lane.waitingCount;
      return { sending: this.sending, waiting };
    }
    const lane = this.workspaces.get(workspace);
    return { sending: lane?.inFlight.size ?? 0, waiting: lane?.waitingCount ?? 0 };
  }

  /** Gives every waiting task back (stopping): their handlers fail, so the tasks stay uncommitted. */
  close(): void {
    for (const lane of this.waitingWorkspaces) {
      for (const hook of lane.waitingHooks) for (const waiter of hook.waiting.splice(0)) waiter.reject(new Error('stopping: task handed back'));
      lane.waitingHooks.clear();
      lane.waitingCount = 0;
    }
    this.waitingWorkspaces.clear();
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private webhookLane(workspace: string, webhookId: string, now: number): WebhookLane {
    let lane = this.workspaces.get(workspace);
    if (!lane) {
      lane = { name: workspace, inFlight: new Map(), waitingHooks: new Set(), waitingCount: 0, quickAt: 0, startedAt: 0, webhooks: new Map() };
      this.workspaces.set(workspace, lane);
    }
    let hook = lane.webhooks.get(webhookId);
    if (!hook) {
      hook = { id: webhookId, workspace: lane, inFlight: new Map(), waiting: [], slowUntil: 0, quickAt: 0, touchedAt: now };
      lane.webhooks.set(webhookId, hook);
      this.ensureSweeper();
    }
    hook.touchedAt = now;
    return hook;
  }

  private start(hook: WebhookLane, now: number): SendSlot {
    const token = this.nextToken++;
    hook.inFlight.set(token, now);
    hook.workspace.inFlight.set(token, now);
    hook.workspace.startedAt = now;
    this.sending++;
    return { workspace: hook.workspace.name, webhookId: hook.id, token };
  }

  private hookLimit(hook: WebhookLane, now: number): number {
    const answersQuickly = hook.quickAt > 0 && now - hook.quickAt < this.options.slowForMs && !this.isSlow(hook, now);
    return answersQuickly ? this.workspaceLimit : Math.min(this.options.slowLimit, this.workspaceLimit);
  }

  private hasRoom(hook: WebhookLane, now: number): boolean {
    return this.sending < this.processLimit && hook.workspace.inFlight.size < this.workspaceLimit && hook.inFlight.size < this.hookLimit(hook, now);
  }

  private isSlow(hook: WebhookLane, now: number): boolean {
    return hook.slowUntil > now || startedLongAgo(hook.inFlight, now, this.options.slowAfterMs);
  }

  /**
   * A workspace stalls when all its slots are taken and none has turned over for `slowAfterMs`
   * (a pause in its traffic beside a few hanging sends is not a stall).
   */
  private isStalled(lane: WorkspaceLane, now: number): boolean {
    return lane.inFlight.size >= this.workspaceLimit && now - lane.startedAt >= this.options.slowAfterMs;
  }

  /** A slow webhook that holds its share: its further tasks are deferred rather than wait. */
  private isSlowAndFull(hook: WebhookLane, now: number): boolean {
    return this.isSlow(hook, now) && hook.inFlight.size >= this.hookLimit(hook, now);
  }

  /** Why a task that cannot start now should not wait either, or null to wait. */
  private deferral(hook: WebhookLane, now: number): string | null {
    if (this.isSlowAndFull(hook, now)) return DEFERRED_SLOW_ENDPOINT;
    const lane = hook.workspace;
    if (this.isStalled(lane, now)) return DEFERRED_WORKSPACE_BUSY;
    if (lane.waitingCount < this.workspaceQueue) return null;
    // A long queue waits only while its workspace sends quickly and this webhook is not what holds it up.
    const sendingQuickly = now - lane.quickAt < this.options.slowAfterMs;
    return sendingQuickly && hook.inFlight.size < this.hookLimit(hook, now) ? null : DEFERRED_WORKSPACE_BUSY;
  }

  /** Starts waiting tasks while there is room, one per webhook and workspace in turn. */
  private grant(now: number): void {
    let progress = true;
    while (progress && this.sending < this.processLimit && this.waitingWorkspaces.size > 0) {
      progress = false;
      for (const lane of [...this.waitingWorkspaces]) {
        if (this.sending >= this.processLimit) return;
        if (lane.inFlight.size >= this.workspaceLimit) continue;
        for (const hook of lane.waitingHooks) {
          if (!this.hasRoom(hook, now)) continue;
          const waiter = this.dequeue(hook)!;
          // Its turn is over: to the back of the line (Set order), within its workspace and across them.
          if (hook.waiting.length > 0) {
            lane.waitingHooks.delete(hook);
            lane.waitingHooks.add(hook);
          }
          this.waitingWorkspaces.delete(lane);
          if (lane.waitingCount > 0) this.waitingWorkspaces.add(lane);
          waiter.resolve({ slot: this.start(hook, now) });
          progress = true;
          break;
        }
      }
    }
  }

  private dequeue(hook: WebhookLane): Waiter | undefined {
    const waiter = hook.waiting.shift();
    if (!waiter) return undefined;
    const lane = hook.workspace;
    lane.waitingCount--;
    if (hook.waiting.length === 0) lane.waitingHooks.delete(hook);
    if (lane.waitingCount === 0) this.waitingWorkspaces.delete(lane);
    return waiter;
  }

  /** Defers waiting tasks whose webhook turned slow or whose workspace stalled; forgets idle lanes. */
  private sweep(): void {
    const now = this.now();
    // Each deferral is a write; a few at a time keep a hanging workspace's backlog from holding
    // up the store for everyone at once.
    let budget = DEFERRALS_PER_SWEEP;
    for (const lane of [...this.waitingWorkspaces]) {
      const stalled = this.isStalled(lane, now);
      for (const hook of [...lane.waitingHooks]) {
        const reason = this.isSlowAndFull(hook, now) ? DEFERRED_SLOW_ENDPOINT : stalled ? DEFERRED_WORKSPACE_BUSY : null;
        if (!reason) continue;
        const kept: Waiter[] = [];
        for (const waiter of hook.waiting) {
          if (!waiter.canDefer || budget === 0) kept.push(waiter);
          else {
            budget--;
            waiter.resolve({ deferred: reason });
          }
        }
        lane.waitingCount -= hook.waiting.length - kept.length;
        hook.waiting = kept;
        if (kept.length === 0) lane.waitingHooks.delete(hook);
      }
      if (lane.waitingCount === 0) this.waitingWorkspaces.delete(lane);
    }
    this.grant(now);
    if (++this.sweeps % FORGET_EVERY !== 0) return;
    for (const [name, lane] of this.workspaces) {
      for (const [id, hook] of lane.webhooks) {
        const idle = hook.inFlight.size === 0 && hook.waiting.length === 0 && hook.slowUntil <= now;
        if (idle && now - hook.touchedAt >= this.options.slowForMs) lane.webhooks.delete(id);
      }
      if (lane.webhooks.size === 0) this.workspaces.delete(name);
    }
    if (this.workspaces.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private ensureSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }
}

function startedLongAgo(inFlight: Map<number, number>, now: number, ms: number): boolean {
  const oldest = inFlight.values().next();
  return !oldest.done && now - oldest.value >= ms;
}
