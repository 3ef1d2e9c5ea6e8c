import { Worker } from 'node:worker_threads';
import { Ledger } from './ledger.js';
import type { FromReceiver, ToReceiver } from './receipts.js';

/**
 * The bench's webhook receiver on 127.0.0.1, in a worker thread (bench/receiver-worker.ts): answers
 * 200 (or, by path, never: `/hang`, or 500 for the first attempts: `/flaky?fail=n`), verifies each
 * signature with the webhook's secret and reports every request to the ledger.
 */
export interface BenchReceiver {
  url: string;
  ledger: Ledger;
  /** The secrets the receiver checks these webhooks' signatures with: one message for many, so a run of creates does not wake its thread each time. */
  secrets(secrets: Array<[webhookId: string, secret: string]>): void;
  /** Ends every request held open on `/hang`. */
  releaseHanging(): void;
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<BenchReceiver> {
  const worker = new Worker(new URL('./receiver-worker.js', import.meta.url));
  const ledger = new Ledger();
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: FromReceiver) => {
      if (message.type === 'listening') resolve(message.port);
      else {
        ledger.stats = message.stats;
        ledger.take(message.items);
      }
    });
  });
  const post = (message: ToReceiver) => worker.postMessage(message);
  return {
    url: `http://127.0.0.1:${port}`,
    ledger,
    secrets: (secrets) => post({ type: 'secrets', secrets }),
    releaseHanging: () => post({ type: 'release-hanging' }),
    async stop() {
      post({ type: 'stop' });
      await worker.terminate().catch(() => {});
    },
  };
}
