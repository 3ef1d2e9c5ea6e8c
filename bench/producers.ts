/*
 * What the bench sends: webhooks created through the API, events produced to Kafka, events
 * published through REST, gRPC PublishEvent and the batch RPC PublishEvents, and the raw POST loop.
 */
import { Worker } from 'node:worker_threads';
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { Message, Producer } from 'kafkajs';
import { EventService } from '../src/gen/humiris/webhooks/v1/event_service_pb.js';
import { postJson } from './api-client.js';
import type { Ledger, Tally } from './ledger.js';
import type { RawLoopInput, RawLoopResult } from './raw-loop-worker.js';
import { now, padding } from './receipts.js';
import type { BenchReceiver } from './receiver.js';
import { distribution } from './report.js';

// ---------------------------------------------------------------------------------------------
// Webhooks and Kafka events
// ---------------------------------------------------------------------------------------------

export interface Hook {
  id: string;
  type: string;
  hanging: boolean;
}

export class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly receiver: BenchReceiver,
  ) {}

  /** `url` instead of `path` sends a webhook elsewhere than the receiver. */
  async createHooks(key: string, specs: Array<{ type: string; path?: string; url?: string; hanging?: boolean }>, concurrency = 8): Promise<Hook[]> {
    const hooks: Hook[] = new Array(specs.length);
    // Handed to the receiver once all are created, before any event is sent to them.
    const secrets: Array<[string, string]> = [];
    let next = 0;
    const worker = async (end: number) => {
      while (next < end) {
        const index = next++;
        const spec = specs[index]!;
        const response = await postJson(
          `${this.baseUrl}/v1/webhooks`,
          key,
          JSON.stringify({ url: spec.url ?? `${this.receiver.url}${spec.path ?? '/hook'}`, events: [spec.type], agent: null, description: 'bench' }),
        );
        const json = JSON.parse(response.text) as { id?: string; signing_secret?: string };
        if (!response.ok || !json.id || !json.signing_secret) {
          throw new Error(`creating a webhook failed: ${response.status} ${JSON.stringify(json)}`);
        }
        secrets.push([json.id, json.signing_secret]);
        hooks[index] = { id: json.id, type: spec.type, hanging: spec.hanging ?? false };
      }
    };
    // The first webhook of a workspace alone: concurrent first creates race on the workspace's version counter.
    await worker(Math.min(1, specs.length));
    await Promise.all(Array.from({ length: concurrency }, () => worker(specs.length)));
    this.receiver.secrets(secrets);
    return hooks;
  }
}

/** Where event `i` of a run goes: its workspace, its type and the webhooks that must receive it. */
export type EventRoute = (i: number) => { workspace: string; type: string; expect: Hook[] };

export interface PlannedEvent {
  id: string;
  type: string;
  workspace: string;
  agent: string;
  /** Webhooks that must receive it. */
  expect: Hook[];
}

function envelope(event: PlannedEvent, sentAt: number, pad: string): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    workspace: event.workspace,
    agent: event.agent,
    created_at: new Date(sentAt).toISOString(),
    data: { sent_at: sentAt, note: pad },
  });
}

export class EventProducer {
  private readonly pad: string;
  constructor(
    private readonly producer: Producer,
    private readonly prefix: string,
    private readonly ledger: Ledger,
    bodyBytes: number,
  ) {
    // The delivered body is the envelope minus `workspace`.
    this.pad = padding(bodyBytes);
  }

  /** Registers the expected receipts and produces the events in one request (stamped now). */
  async send(events: PlannedEvent[], tally: Tally): Promise<number> {
    const sentAt = now();
    const byTopic = new Map<string, Message[]>();
    for (const event of events) {
      for (const hook of event.expect) this.ledger.expect(event.id, hook.id, tally);
      const topic = `${this.prefix}.events.${event.type}`;
      const list = byTopic.get(topic) ?? [];
      list.push({ key: event.agent, value: envelope(event, sentAt, this.pad) });
      byTopic.set(topic, list);
    }
    await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    return sentAt;
  }
}

let eventSeq = 0;

/** A fresh number for an event id of this process. */
export const nextEventSeq = (): number => eventSeq++;

export function planEvents(run: string, count: number, pick: EventRoute): PlannedEvent[] {
  return Array.from({ length: count }, (_, i) => ({ id: `evt_bench_${run}_${eventSeq++}`, agent: `agent-${i % 16}`, ...pick(i) }));
}

// ---------------------------------------------------------------------------------------------
// Publishing through the API at N concurrent callers
// ---------------------------------------------------------------------------------------------

/** One call's worth of publishing; resolves with the events it published. */
export type PublishCall = () => Promise<number>;

/**
 * `events` events through `call` (`perCall` events a call) at `concurrency` callers, after a
 * warm-up of a tenth (at most 500 events); each call timed.
 */
export async function publishLoop(call: PublishCall, events: number, concurrency: number, perCall = 1) {
  const calls = (n: number) => Math.ceil(n / perCall);
  const callMs: number[] = [];
  let errors = 0;
  let firstError = '';
  let accepted = 0;
  const run = async (n: number, measure: boolean) => {
    let left = n;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left > 0) {
          left--;
          const t = now();
          try {
            const published = await call();
            if (measure) {
              callMs.push(now() - t);
              accepted += published;
            }
          } catch (error) {
            errors++;
            firstError ||= (error as Error).message;
          }
        }
      }),
    );
  };
  await run(calls(Math.min(500, Math.ceil(events / 10))), false);
  const t0 = now();
  await run(calls(events), true);
  const seconds = (now() - t0) / 1000;
  return { events, accepted, errors, firstError: firstError || undefined, seconds, eventsPerSecond: accepted / seconds, callMs: distribution(callMs) };
}

/**
 * One unary method of a plain @grpc/grpc-js client, as another Node service calls the API. The bench
 * shares the service's two cores, and connect-node's gRPC transport took about 0.35–0.45 ms of the
 * bench's CPU per call against 0.14–0.20 ms for grpc-js (10,000 PublishEvent calls each, two runs).
 */
function grpcUnary<I extends DescMessage, O extends DescMessage>(client: grpc.Client, method: DescMethod & { input: I; output: O }, metadata: grpc.Metadata) {
  const path = `/${method.parent.typeName}/${method.name}`;
  return (request: MessageInitShape<I>) =>
    new Promise<MessageShape<O>>((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        create(method.input, request),
        metadata,
        (error, reply) => (error ? reject(error) : resolve(reply!)),
      );
    });
}

/** Events of one type to one workspace's key, as a service publishing through the API sends them. */
export function apiPublishers(baseUrl: string, key: string, type: string, bodyBytes: number) {
  const pad = padding(bodyBytes);
  const data = () => ({ sent_at: now(), note: pad });
  const client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  const publishEvent = grpcUnary(client, EventService.method.publishEvent, metadata);
  const publishEvents = grpcUnary(client, EventService.method.publishEvents, metadata);
  return {
    close: () => client.close(),
    /** `POST /v1/events`, one event a call. */
    rest: (async () => {
      const response = await postJson(`${baseUrl}/v1/events`, key, JSON.stringify({ type, agent: 'agent-1', data: data() }));
      if (!response.ok) throw new Error(`${response.status} ${response.text.slice(0, 200)}`);
      return 1;
    }) satisfies PublishCall,
    /** gRPC `PublishEvent`, one event a call. */
    grpc: (async () => {
      await publishEvent({ event: { type, agent: 'agent-1', data: data() } });
      return 1;
    }) satisfies PublishCall,
    /** gRPC `PublishEvents`, `size` events a call; an event refused in the answer is an error. */
    grpcBatch: (size: number): PublishCall =>
      async () => {
        const { results } = await publishEvents({ events: Array.from({ length: size }, () => ({ type, agent: 'agent-1', data: data() })) });
        const refused = results.find((r) => r.result.case !== 'id');
        if (refused?.result.case === 'error') throw new Error(`${refused.result.value.code}: ${refused.result.value.message}`);
        return results.length;
      },
  };
}

// ---------------------------------------------------------------------------------------------
// The raw POST loop (scenario 1), in a worker thread of its own
// ---------------------------------------------------------------------------------------------

export function runRawLoop(input: RawLoopInput): Promise<RawLoopResult> {
  return new Promise<RawLoopResult>((resolve, reject) => {
    const worker = new Worker(new URL('./raw-loop-worker.js', import.meta.url), { workerData: { input } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}
