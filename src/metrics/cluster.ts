import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** One registry's metrics as getMetricsAsJSON gives them. */
type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
import type { MetricsSource } from './endpoint.js';

/*
 * GET /metrics under `serve --workers N`: the worker that takes the request asks the primary,
 * the primary collects every started worker's registry and sums them with prom-client's
 * AggregatorRegistry (each metric by its `aggregator`: counters and histograms add up, Kafka
 * lag is one reading), so the answer is the whole service's, with the same names and labels.
 */

const SCRAPE = 'humiris:metrics-scrape';
const SCRAPED = 'humiris:metrics-scraped';
const COLLECT = 'humiris:metrics-collect';
const COLLECTED = 'humiris:metrics-collected';
/** A worker that does not answer within this is left out of the sum (it is stuck or stopping). */
const COLLECT_TIMEOUT_MS = 3_000;
/** The asking worker's bound on the primary's answer. */
const SCRAPE_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 2_000;

interface Message {
  type?: string;
  id?: number;
  text?: string;
  error?: string;
  metrics?: RegistryJson;
}

/** Requests by id, each settled once by its answer or its timeout. */
class Pending<T> {
  private next = 0;
  private readonly waiting = new Map<number, (result: T | Error) => void>();

  open(timeoutMs: number, send: (id: number) => void): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (result) => {
        clearTimeout(timer);
        if (result instanceof Error) reject(result);
        else resolve(result);
      });
      send(id);
    });
  }

  settle(id: number | undefined, result: T | Error): void {
    if (id === undefined) return;
    const settle = this.waiting.get(id);
    this.waiting.delete(id);
    settle?.(result);
  }
}

/** In a worker: GET /metrics answers the sum over all workers, and this worker's registry is given to the primary on request. */
export function workerMetrics(registry: Registry): MetricsSource {
  const scrapes = new Pending<string>();
  process.on('message', (message: Message) => {
    if (message?.type === COLLECT) {
      registry.getMetricsAsJSON().then(
        (metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics }),
        (error: Error) => process.send?.({ type: COLLECTED, id: message.id, error: error.message }),
      );
    } else if (message?.type === SCRAPED) {
      scrapes.settle(message.id, message.error === undefined ? (message.text ?? '') : new Error(message.error));
    }
  });
  return {
    contentType: registry.contentType,
    metrics: () => scrapes.open(SCRAPE_TIMEOUT_MS, (id) => process.send!({ type: SCRAPE, id })),
  };
}

/** In the primary: answers the workers' scrapes with the sum over `workers()` (those started). */
export function answerWorkerScrapes(workers: () => Worker[], onLeftOut: (worker: Worker, error: Error) => void): void {
  const collects = new Pending<RegistryJson>();
  const collect = async (): Promise<string> => {
    const all = await Promise.all(
      workers().map((worker) =>
        collects
          .open(COLLECT_TIMEOUT_MS, (id) => worker.send({ type: COLLECT, id }))
          .catch((error: Error) => {
            onLeftOut(worker, error);
            return undefined;
          }),
      ),
    );
    return AggregatorRegistry.aggregate(all.filter((m) => m !== undefined)).metrics();
  };
  cluster.on('message', (worker: Worker, message: Message) => {
    if (message?.type === COLLECTED) {
      collects.settle(message.id, message.error === undefined ? (message.metrics ?? []) : new Error(message.error));
    } else if (message?.type === SCRAPE) {
      collect().then(
        (text) => worker.isConnected() && worker.send({ type: SCRAPED, id: message.id, text }),
        (error: Error) => worker.isConnected() && worker.send({ type: SCRAPED, id: message.id, error: error.message }),
      );
    }
  });
}
