export interface EndpointLanesOptions {
  /** A send running (or that ran) this long marks its webhook slow. */
  slowAfterMs: number;
  /** How long a webhook stays slow after its last slow send. */
  slowForMs: number;
  /** Sends a slow webhook may have in flight at once (per process). */
  slowLimit: number;
  now?: () => number;
}

interface Lane {
  /** Start times of the sends in flight, oldest first (a Map keeps insertion order). */
  inFlight: Map<number, number>;
  slowUntil: number;
}

/**
 * Keeps one hanging endpoint from taking every send slot. A webhook is slow while one of its
 * sends has run longer than `slowAfterMs`, and for `slowForMs` after one did; a slow webhook
 * gets at most `slowLimit` sends at once. Fast webhooks are never limited here.
 */
export class EndpointLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly now: () => number;
  private nextToken = 0;

  constructor(private readonly options: EndpointLanesOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A token for `finish`, or null when the webhook is slow and already has its share in flight. */
  tryStart(webhookId: string): number | null {
    const now = this.now();
    let lane = this.lanes.get(webhookId);
    if (lane && this.isSlow(lane, now) && lane.inFlight.size >= this.options.slowLimit) return null;
    if (!lane) this.lanes.set(webhookId, (lane = { inFlight: new Map(), slowUntil: 0 }));
    const token = this.nextToken++;
    lane.inFlight.set(token, now);
    return token;
  }

  finish(webhookId: string, token: number): void {
    const lane = this.lanes.get(webhookId);
    const startedAt = lane?.inFlight.get(token);
    if (!lane || startedAt === undefined) return;
    lane.inFlight.delete(token);
    const now = this.now();
    if (now - startedAt >= this.options.slowAfterMs) lane.slowUntil = now + this.options.slowForMs;
    if (lane.inFlight.size === 0 && lane.slowUntil <= now) this.lanes.delete(webhookId);
  }

  isSlowNow(webhookId: string): boolean {
    const lane = this.lanes.get(webhookId);
    return lane ? this.isSlow(lane, this.now()) : false;
  }

  private isSlow(lane: Lane, now: number): boolean {
    if (lane.slowUntil > now) return true;
    const oldest = lane.inFlight.values().next();
    return !oldest.done && now - oldest.value >= this.options.slowAfterMs;
  }
}
