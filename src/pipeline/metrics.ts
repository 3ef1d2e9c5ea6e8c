import type { DeliveryStatus } from './ports.js';

/**
 * What the pipeline (and the API, bus and store) report for monitoring. src/metrics/ implements
 * it with prom-client, the only room that imports that library; `noMetrics` stands in where
 * nothing is exported (unit tests). Every call is a counter or histogram update: no I/O, no await.
 *
 * Adding a metric: declare it in src/metrics/definitions.ts (a `humiris_webhooks_…` name, help,
 * labels from a bounded set, never an id), add a method here and its no-op in `noMetrics`, and
 * implement the method in src/metrics/service-metrics.ts (one line). The metrics test's id
 * check and the dashboard/alert check then cover it.
 */
export interface Metrics {
  /** A delivery's attempt (or an end without one) left it in this state. */
  deliveryOutcome(eventType: string, status: DeliveryStatus): void;
  /** A first attempt started this long after its delivery was created by the matcher. */
  firstAttemptDelay(seconds: number): void;
  /** A task was held back without an attempt, for one of the dispatcher's hold-back reasons. */
  heldBack(reason: string): void;
  /** One API call (Connect, gRPC, gRPC-Web or REST): `rpc` is `Service/Method`, `code` a Connect code name or "ok". */
  apiRequest(rpc: string, code: string, seconds: number): void;
}

const nothing = (): void => {};

export const noMetrics: Metrics = {
  deliveryOutcome: nothing,
  firstAttemptDelay: nothing,
  heldBack: nothing,
  apiRequest: nothing,
};
