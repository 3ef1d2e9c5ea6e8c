import { performance } from 'node:perf_hooks';

/** Epoch milliseconds with sub-millisecond precision, comparable across threads. */
export const now = (): number => performance.timeOrigin + performance.now();

/** Padding that brings a delivered body (about 190 bytes without it) to about `bodyBytes`. */
export const padding = (bodyBytes: number): string => 'x'.repeat(Math.max(0, bodyBytes - 190));

/** One request as the receiver saw it: [eventId, webhookId, deliveryId, attempt, at, signatureOk, status, finishedAt, sentAt]. */
export type Receipt = [string, string, string, number, number, 0 | 1, number, number, number];

export interface ReceiverStats {
  raw: number;
  rawBadSignatures: number;
  hanging: number;
}

export type ToReceiver =
  | { type: 'secrets'; secrets: Array<[webhookId: string, secret: string]> }
  | { type: 'release-hanging' }
  | { type: 'stop' };

export type FromReceiver = { type: 'listening'; port: number } | { type: 'receipts'; items: Receipt[]; stats: ReceiverStats };

/** The webhook id the raw POST loop (scenario 1) signs for. */
export const RAW_WEBHOOK_ID = 'whk_bench_raw';
