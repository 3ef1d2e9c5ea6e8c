import { setTimeout as sleep } from 'node:timers/promises';
import type { Receipt, ReceiverStats } from './receipts.js';

// Accounting: every expected (event, webhook) pair is received once, or reported missing.

/** Successful receipts of any scenario: a tally waiting behind another's backlog still sees progress. */
let receiptsSeen = 0;

export class Tally {
  expected = 0;
  received = 0;
  /** Latencies (ms): event produced → receiver got the successful attempt. */
  latencies: number[] = [];
  firstAt = Infinity;
  lastAt = 0;
  duplicates = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly label: string) {}

  get missing(): number {
    return this.expected - this.received;
  }

  /** The figures every scenario reports, in the order its JSON shows them. */
  counts() {
    return { expected: this.expected, received: this.received, missing: this.missing, duplicates: this.duplicates };
  }

  onReceived(at: number, sentAt: number): void {
    this.received++;
    if (sentAt > 0) this.latencies.push(at - sentAt);
    if (at < this.firstAt) this.firstAt = at;
    if (at > this.lastAt) this.lastAt = at;
    if (this.received >= this.expected) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once all expected arrived, or when nothing new arrived for `idleMs`. */
  async settle(idleMs: number, maxMs = 30 * 60_000): Promise<void> {
    const start = Date.now();
    let lastCount = -1;
    let lastChange = Date.now();
    let lastReport = Date.now();
    while (this.received < this.expected) {
      if (receiptsSeen !== lastCount) {
        lastCount = receiptsSeen;
        lastChange = Date.now();
      }
      if (Date.now() - lastChange > idleMs || Date.now() - start > maxMs) {
        process.stderr.write(`[bench]    ${this.label}: gave up waiting at ${this.received}/${this.expected}\n`);
        return;
      }
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        process.stderr.write(`[bench]    ${this.label}: ${this.received}/${this.expected}\n`);
      }
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), sleep(250, undefined, { ref: false })]);
    }
  }
}

interface PairState {
  tally: Tally;
  deliveryId?: string;
}

/** Routes the receiver's reports to the scenario that expects them. */
export class Ledger {
  private readonly pairs = new Map<string, PairState>();
  private readonly seenDeliveries = new Set<string>();
  unexpected = 0;
  badSignatures = 0;
  /** Every request (any status), for scenarios that look at attempts. */
  onAttempt?: (receipt: Receipt) => void;
  stats: ReceiverStats = { raw: 0, rawBadSignatures: 0, hanging: 0 };

  expect(eventId: string, webhookId: string, tally: Tally): void {
    this.pairs.set(`${eventId}|${webhookId}`, { tally });
    tally.expected++;
  }

  take(items: Receipt[]): void {
    for (const receipt of items) {
      const [eventId, webhookId, deliveryId, , at, signatureOk, status, , sentAt] = receipt;
      this.onAttempt?.(receipt);
      const pair = this.pairs.get(`${eventId}|${webhookId}`);
      if (!signatureOk) this.badSignatures++;
      if (status !== 200) continue;
      receiptsSeen++;
      if (!pair) {
        this.unexpected++;
        continue;
      }
      if (this.seenDeliveries.has(deliveryId) || pair.deliveryId !== undefined) {
        // The same delivery again (at least once), or a second delivery for one pair.
        pair.tally.duplicates++;
        continue;
      }
      this.seenDeliveries.add(deliveryId);
      pair.deliveryId = deliveryId;
      pair.tally.onReceived(at, sentAt);
    }
  }
}
