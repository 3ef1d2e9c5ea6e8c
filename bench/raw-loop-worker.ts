/* Scenario 1's raw POST loop, in a worker thread of its own (bench/producers.ts runRawLoop starts it). */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent } from 'undici';
import { signatureHeader } from '../src/domain/signing.js';
import { now, RAW_WEBHOOK_ID } from './receipts.js';

export interface RawLoopInput {
  url: string;
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  body: string;
  secret: string;
  userAgent: string;
}

export interface RawLoopResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
}

/** Keep-alive POSTs through one undici pool, as the service's sender does, signed the same way. */
async function rawLoopWorker(input: RawLoopInput): Promise<void> {
  const target = new URL(input.url);
  const agent = new Agent({ pipelining: 1, connections: null, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const started = now();
  const measureFrom = started + input.warmupMs;
  const end = measureFrom + input.measureMs;
  let requests = 0;
  let errors = 0;
  let seq = 0;
  const loop = async () => {
    for (;;) {
      const t = now();
      if (t >= end) return;
      const timestamp = Math.floor(Date.now() / 1000);
      const deliveryId = `dlv_raw_${seq++}`;
      try {
        const response = await agent.request({
          origin: target.origin,
          path: target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': input.userAgent,
            'x-humiris-signature': signatureHeader(input.body, [input.secret], timestamp),
            'x-humiris-event': 'email.received',
            'x-humiris-delivery': deliveryId,
            'x-humiris-webhook': RAW_WEBHOOK_ID,
            'x-humiris-attempt': '1',
          },
          body: input.body,
        });
        for await (const _chunk of response.body) {
          // read the (tiny) body as the sender does
        }
        const done = now();
        if (done >= measureFrom && done < end) {
          if (response.statusCode === 200) requests++;
          else errors++;
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: input.concurrency }, loop));
  await agent.close();
  const seconds = input.measureMs / 1000;
  parentPort!.postMessage({ requests, errors, seconds, requestsPerSecond: requests / seconds } satisfies RawLoopResult);
}

if (workerData) void rawLoopWorker((workerData as { input: RawLoopInput }).input);
