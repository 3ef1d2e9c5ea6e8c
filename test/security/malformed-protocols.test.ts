import http2 from 'node:http2';
import { Code, ConnectError } from '@connectrpc/connect';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/event-types.js';
import { grpcCall, grpcJsClient, startTestApi, type TransportKind } from '../helpers/api.js';

/*
 * The malformed-request corpus over the binary protocols: gRPC (@grpc/grpc-js and Connect's gRPC
 * transport), gRPC-Web and Connect binary. Wrong JSON types cannot be expressed there, so the
 * corpus is invalid ids, path traversal, hostile page sizes and cursors, header injection and
 * Unicode tricks in URLs, unknown status strings, values JSON cannot hold, oversized messages and
 * raw bytes that are no valid message at all. Every one answers a client-error code with a
 * message, never internal/unknown/unavailable, and the service keeps answering.
 */
const api = await startTestApi('security-malformed-protocols');
const key = await api.newKey();
const owner = api.webhooks('connect-json-h1', key);
const own = await owner.createWebhook({ url: 'https://example.com/own', events: ['*'] });
const ownDelivery = await owner.sendTestEvent({ id: own.id });

const CLIENT_ERRORS = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.Unauthenticated,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.OutOfRange,
  Code.AlreadyExists,
  Code.PermissionDenied,
]);
const BINARY_KINDS: TransportKind[] = ['connect-binary-h2', 'grpc-h2', 'grpc-web-h1'];

type Outcome = { code: Code | 'OK'; message: string };

async function outcome(promise: Promise<unknown>): Promise<Outcome> {
  try {
    await promise;
    return { code: 'OK', message: '' };
  } catch (e) {
    const error = ConnectError.from(e);
    return { code: error.code, message: error.rawMessage };
  }
}

/*
 * Bytes that do not parse as the request message (invalid varints, wrong wire types, strings that
 * are not UTF-8, as grpc-js writes for lone surrogates) are refused by Connect's runtime before any
 * of our code runs; the server turns its `internal` into `invalid_argument` (src/api/undecodable.ts).
 */
const unparseable: string[] = [];
function expectClientErrorOrUnparseable(result: Outcome, what: string): void {
  if (/^parse binary(:|%3A) /.test(result.message)) unparseable.push(what);
  expectClientError(result, what);
}

function expectClientError(result: Outcome, what: string): void {
  expect(result.code === 'OK' ? 'OK' : Code[result.code], what).not.toBe('OK');
  expect(CLIENT_ERRORS.has(result.code as Code), `${what}: ${result.code === 'OK' ? 'OK' : Code[result.code]} ${result.message}`).toBe(true);
  expect(result.message.length, what).toBeGreaterThan(0);
}

function expectNoServerError(result: Outcome, what: string): void {
  if (result.code !== 'OK') expectClientError(result, what);
}

async function stillAnswers(): Promise<void> {
  expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
  const list = await api.webhooks('grpc-h2', key).listWebhooks({});
  expect(list.webhooks.map((w) => w.id)).toContain(own.id);
}

// --- the corpus -------------------------------------------------------------------------------

const HOSTILE_IDS = [
  '',
  'nope',
  '../../../etc/passwd',
  '..%2F..%2Fadmin',
  `whk_../../${'x'.repeat(17)}`,
  `${own.id}/../${own.id}`,
  `${own.id}\u0000`,
  `${own.id}\r\nX-Injected: 1`,
  'whk_ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸ', // fullwidth letters
  `whk_\u202e${'a'.repeat(23)}`, // right-to-left override
  `whk_${'a'.repeat(23)}\u0301`, // combining accent
  `whk_${'\ud800'.repeat(24)}`, // lone surrogates
  '{"$gt":""}',
  '$where',
  'whk_*',
  `whk_${'A'.repeat(100_000)}`,
];

const HOSTILE_URLS = [
  '',
  ' ',
  'https://example.com/\r\nX-Evil: 1',
  'https://example.com/\nHost: internal',
  'https://example.com/%0d%0a\r\n',
  'https://exa\u202emple.com/',
  'https://example.com\u0000.evil.com/',
  'https://example.com/\u2028',
  'https://example.com/\u00a0',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'gopher://example.com:70/_',
  'ftp://example.com/',
  'data:text/plain,hi',
  'https://user:pass@example.com/',
  'https://[::1',
  'http://%00/',
  '//example.com/no-scheme',
  `https://example.com/${'a'.repeat(5_000)}`,
];

const STATUS_STRINGS = ['ACTIVE', 'enabled', 'deleted', 'active\u0000', ' active', 'аctive' /* Cyrillic а */, 'active\r\n', '*', 'null'];
const DELIVERY_STATUSES = ['unknown', 'SUCCEEDED', 'succeeded\u0000', 'dead', 'pending ', 'ＰＥＮＤＩＮＧ'];
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const HOSTILE_CURSORS = [
  'garbage!!',
  '../../etc/passwd',
  'x'.repeat(10_000),
  cursor({ t: 'x', id: 'y' }),
  cursor({ t: 1, id: { $gt: '' } }),
  cursor({ t: 1e400, id: 'y' }),
  cursor([1, 2]),
  cursor('text'),
  Buffer.from('\u00ff\u00fe\u0000').toString('base64url'),
];

type Case = { name: string; call: (client: any) => Promise<unknown>; expect?: 'ok-or-client-error' };

function corpus(): Case[] {
  const cases: Case[] = [];
  for (const id of HOSTILE_IDS) {
    const label = JSON.stringify(id.slice(0, 40));
    cases.push(
      { name: `get ${label}`, call: (c) => c.getWebhook({ id }) },
      { name: `update ${label}`, call: (c) => c.updateWebhook({ id, description: 'x' }) },
      { name: `delete ${label}`, call: (c) => c.deleteWebhook({ id }) },
      { name: `rotate ${label}`, call: (c) => c.rotateWebhookSecret({ id }) },
      { name: `test ${label}`, call: (c) => c.sendTestEvent({ id }) },
      { name: `deliveries ${label}`, call: (c) => c.listDeliveries({ webhookId: id }) },
      { name: `delivery webhook ${label}`, call: (c) => c.getDelivery({ webhookId: id, deliveryId: ownDelivery.id }) },
      { name: `delivery id ${label}`, call: (c) => c.getDelivery({ webhookId: own.id, deliveryId: id.replace(/^whk_/, 'dlv_') }) },
      { name: `retry ${label}`, call: (c) => c.retryDelivery({ webhookId: own.id, deliveryId: id.replace(/^whk_/, 'dlv_') }) },
    );
  }
  for (const url of HOSTILE_URLS) {
    const label = JSON.stringify(url.slice(0, 40));
    cases.push(
      { name: `create url ${label}`, call: (c) => c.createWebhook({ url, events: ['*'] }) },
      { name: `update url ${label}`, call: (c) => c.updateWebhook({ id: own.id, url }) },
    );
  }
  for (const events of [[], [''], ['EMAIL.SENT'], ['email.sent\u0000'], ['*', 'nope'], ['email.*'], ['../email.sent'], Array(10_000).fill('bogus')]) {
    cases.push({ name: `create events ${JSON.stringify(events.slice(0, 3))}`, call: (c) => c.createWebhook({ url: 'https://example.com/', events }) });
    if (events.length > 0) cases.push({ name: `update events ${JSON.stringify(events.slice(0, 3))}`, call: (c) => c.updateWebhook({ id: own.id, events }) });
  }
  for (const agent of ['Bad Agent', '../x', 'a'.repeat(100), 'agent\r\n', 'ａｇｅｎｔ', '-x']) {
    cases.push(
      { name: `create agent ${JSON.stringify(agent.slice(0, 20))}`, call: (c) => c.createWebhook({ url: 'https://example.com/', events: ['*'], agent }) },
      { name: `update agent ${JSON.stringify(agent.slice(0, 20))}`, call: (c) => c.updateWebhook({ id: own.id, agent }) },
    );
  }
  cases.push(
    { name: 'create description 1025', call: (c) => c.createWebhook({ url: 'https://example.com/', events: ['*'], description: 'x'.repeat(1025) }) },
    { name: 'update description 1025', call: (c) => c.updateWebhook({ id: own.id, description: 'é'.repeat(1025) }) },
  );
  for (const status of STATUS_STRINGS) cases.push({ name: `update status ${JSON.stringify(status)}`, call: (c) => c.updateWebhook({ id: own.id, status }) });
  for (const status of DELIVERY_STATUSES) cases.push({ name: `deliveries status ${JSON.stringify(status)}`, call: (c) => c.listDeliveries({ webhookId: own.id, status }) });
  for (const eventType of ['nope', 'email.sent\r\n', '*', 'EMAIL.SENT', '../email.sent']) {
    cases.push({ name: `deliveries event_type ${JSON.stringify(eventType)}`, call: (c) => c.listDeliveries({ webhookId: own.id, eventType }) });
  }
  for (const pageSize of [-1, -500, -2147483648]) {
    cases.push(
      { name: `webhooks page_size ${pageSize}`, call: (c) => c.listWebhooks({ pageSize }) },
      { name: `deliveries page_size ${pageSize}`, call: (c) => c.listDeliveries({ webhookId: own.id, pageSize }) },
    );
  }
  for (const pageToken of HOSTILE_CURSORS) {
    cases.push(
      { name: `webhooks cursor ${pageToken.slice(0, 30)}`, call: (c) => c.listWebhooks({ pageToken }) },
      { name: `deliveries cursor ${pageToken.slice(0, 30)}`, call: (c) => c.listDeliveries({ webhookId: own.id, pageToken }) },
    );
  }
  for (const [seconds, nanos] of [
    [-1n, 0],
    [10n ** 18n, 0],
    [-(10n ** 18n), 0],
    [1n, -2_000_000_000],
    [2_592_001n, 0],
  ] as const) {
    cases.push({ name: `rotate expire ${seconds}s ${nanos}ns`, call: (c) => c.rotateWebhookSecret({ id: own.id, expirePreviousIn: { seconds, nanos } }) });
  }
  // Values the binary encodings carry but JSON (the event envelope) cannot.
  for (const [name, event] of [
    ['no event', undefined],
    ['unknown type', { type: 'nope', data: {} }],
    ['agent', { type: 'email.sent', data: {}, agent: 'Bad Agent' }],
    ['id', { type: 'email.sent', data: {}, id: 'evt with spaces' }],
    ['NaN in data', { type: 'email.sent', data: { x: NaN } }],
    ['Infinity in data', { type: 'email.sent', data: { nested: { x: -Infinity } } }],
    ['created_at year 31 million', { type: 'email.sent', data: {}, createdAt: { seconds: 10n ** 15n, nanos: 0 } }],
    ['created_at negative nanos', { type: 'email.sent', data: {}, createdAt: { seconds: 1n, nanos: -5 } }],
    ['created_at before year 1', { type: 'email.sent', data: {}, createdAt: { seconds: -(10n ** 12n), nanos: 0 } }],
  ] as const) {
    cases.push({ name: `publish ${name}`, call: (c) => c.events.publishEvent({ event }) });
  }
  // Larger than the 1 MiB message limit.
  cases.push(
    { name: 'create 2 MiB description', call: (c) => c.createWebhook({ url: 'https://example.com/', events: ['*'], description: 'x'.repeat(2 << 20) }) },
    { name: 'publish 2 MiB data', call: (c) => c.events.publishEvent({ event: { type: 'email.sent', data: { blob: 'x'.repeat(2 << 20) } } }) },
  );
  // Capped, not refused: a page size far above the maximum answers the maximum.
  cases.push(
    { name: 'webhooks page_size 2^31-1', call: (c) => c.listWebhooks({ pageSize: 2147483647 }), expect: 'ok-or-client-error' },
    { name: 'deliveries page_size 2^31-1', call: (c) => c.listDeliveries({ webhookId: own.id, pageSize: 2147483647 }), expect: 'ok-or-client-error' },
  );
  return cases;
}

// --- raw bytes --------------------------------------------------------------------------------

/** A varint as protobuf writes it. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const field = (no: number, bytes: Uint8Array | number[]): Buffer => Buffer.from([(no << 3) | 2, ...varint(bytes.length), ...bytes]);

/** PublishEventRequest{event: {type: email.sent, data: Struct nested `depth` levels}} without recursion. */
function deepPublishRequest(depth: number): Buffer {
  // Each level: Struct.fields(1) = entry{key(1)="a", value(2)=Value{struct_value(5)=<inner Struct>}}; all prefixes.
  const prefixes: Buffer[] = [];
  let inner = 0; // length of the Struct below this level
  for (let i = 0; i < depth; i++) {
    const value = [0x2a, ...varint(inner)];
    const valueLength = value.length + inner;
    const entry = [0x0a, 0x01, 0x61, 0x12, ...varint(valueLength)];
    const entryLength = entry.length + valueLength;
    const struct = [0x0a, ...varint(entryLength)];
    prefixes.push(Buffer.from([...struct, ...entry, ...value]));
    inner = struct.length + entryLength;
  }
  const data = Buffer.concat(prefixes.reverse());
  const event = Buffer.concat([field(2, Buffer.from('email.sent')), field(6, data)]);
  return field(1, event);
}

const RAW_BODIES: Array<{ name: string; method: string; bytes: Buffer }> = [
  { name: 'garbage', method: 'WebhookService/GetWebhook', bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
  { name: 'truncated length', method: 'WebhookService/GetWebhook', bytes: Buffer.from([0x0a, 0x7f, 0x61]) },
  { name: 'truncated varint', method: 'WebhookService/ListWebhooks', bytes: Buffer.from([0x08, 0xff, 0xff]) },
  { name: 'wrong wire type', method: 'WebhookService/GetWebhook', bytes: Buffer.from([0x0b, 0x01]) },
  { name: 'invalid UTF-8 id', method: 'WebhookService/GetWebhook', bytes: field(1, [0xc3, 0x28, 0xff, 0xfe]) },
  { name: 'invalid UTF-8 url', method: 'WebhookService/CreateWebhook', bytes: Buffer.concat([field(1, [0x68, 0xc3, 0x28]), field(2, Buffer.from('*'))]) },
  { name: 'field number 0', method: 'WebhookService/ListWebhooks', bytes: Buffer.from([0x00, 0x01]) },
  { name: 'page_size as 10-byte varint', method: 'WebhookService/ListWebhooks', bytes: Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
  { name: 'event nested 10,000 levels', method: 'EventService/PublishEvent', bytes: deepPublishRequest(10_000) },
  { name: 'event nested 200 levels', method: 'EventService/PublishEvent', bytes: deepPublishRequest(200) },
];

const pathOf = (method: string) => `/humiris.webhooks.v1.${method}`;
const CODE_BY_NAME = new Map(Object.entries(Code).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k.replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase()), v as Code]));

async function rawConnect(method: string, bytes: Buffer): Promise<Outcome> {
  const res = await fetch(`${api.baseUrl}${pathOf(method)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/proto' },
    body: bytes,
  });
  if (res.status === 200) return { code: 'OK', message: '' };
  const body = (await res.json()) as { code: string; message?: string };
  return { code: CODE_BY_NAME.get(body.code) ?? Code.Unknown, message: body.message ?? '' };
}

const frame = (bytes: Buffer, flags = 0): Buffer => {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
};

async function rawGrpcWeb(method: string, body: Buffer): Promise<Outcome> {
  const res = await fetch(`${api.baseUrl}${pathOf(method)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
    body,
  });
  let status = res.headers.get('grpc-status');
  let message = decodeURIComponent(res.headers.get('grpc-message') ?? '');
  const bytes = Buffer.from(await res.arrayBuffer());
  for (let at = 0; status === null && at + 5 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at + 1);
    if (bytes[at]! & 0x80) {
      const trailer = bytes.subarray(at + 5, at + 5 + length).toString('utf8');
      status = /grpc-status:\s*(\d+)/i.exec(trailer)?.[1] ?? null;
      message = decodeURIComponent(/grpc-message:\s*(.*)/i.exec(trailer)?.[1]?.trim() ?? '');
    }
    at += 5 + length;
  }
  const code = Number(status ?? Code.Unknown);
  return code === 0 ? { code: 'OK', message } : { code: code as Code, message };
}

async function rawGrpc(method: string, body: Buffer): Promise<Outcome> {
  const session = http2.connect(api.baseUrl);
  try {
    return await new Promise<Outcome>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': pathOf(method),
        'content-type': 'application/grpc+proto',
        te: 'trailers',
        authorization: `Bearer ${key}`,
      });
      let headers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (headers = { ...headers, ...t }));
      stream.on('data', () => {});
      stream.on('error', reject);
      stream.on('close', () => {
        const code = Number(headers['grpc-status'] ?? Code.Unknown);
        const message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
        resolve(code === 0 ? { code: 'OK', message } : { code: code as Code, message });
      });
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

// --- tests ------------------------------------------------------------------------------------

describe('malformed requests over the binary protocols answer a client error, never a server one', () => {
  for (const kind of BINARY_KINDS) {
    it(`${kind}: the corpus`, async () => {
      const client = { ...api.webhooks(kind, key), events: api.events(kind, key) };
      for (const c of corpus()) {
        const result = await outcome(c.call(client));
        if (c.expect === 'ok-or-client-error') expectNoServerError(result, `${kind} ${c.name}`);
        else expectClientError(result, `${kind} ${c.name}`);
      }
      await stillAnswers();
    });
  }

  it('@grpc/grpc-js: the corpus of plain fields', async () => {
    const webhooks = grpcJsClient(api.baseUrl, 'WebhookService');
    const events = grpcJsClient(api.baseUrl, 'EventService');
    const camelToSnake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    // The same cases, called through grpc-js with the request turned into proto field names;
    // requests it cannot express as plain fields (bigints, Struct data) are left to the other transports.
    const client: any = new Proxy(
      {},
      {
        get: (_, method: string) =>
          method === 'events'
            ? { publishEvent: (req: any) => grpcCall(events, 'PublishEvent', { event: req.event ? { type: req.event.type, agent: req.event.agent, id: req.event.id } : undefined }, key) }
            : (req: Record<string, unknown>) =>
                grpcCall(webhooks, method[0]!.toUpperCase() + method.slice(1), Object.fromEntries(Object.entries(req).map(([k, v]) => [camelToSnake(k), typeof v === 'object' && v !== null && !Array.isArray(v) ? { seconds: String((v as any).seconds), nanos: (v as any).nanos } : v])), key),
      },
    );
    let count = 0;
    for (const c of corpus()) {
      if (/NaN|Infinity|created_at/.test(c.name)) continue;
      const result = await c.call(client).then(
        () => ({ code: 'OK' as const, message: '' }),
        (e: any) => ({ code: e.code as Code, message: String(e.details ?? '') }),
      );
      if (c.expect === 'ok-or-client-error') expectNoServerError(result, `grpc-js ${c.name}`);
      else expectClientErrorOrUnparseable(result, `grpc-js ${c.name}`);
      count++;
    }
    expect(count).toBeGreaterThan(200);
    await stillAnswers();
  });

  it('raw bytes that are no valid message, on Connect binary, gRPC-Web and gRPC', async () => {
    for (const { name, method, bytes } of RAW_BODIES) {
      expectClientErrorOrUnparseable(await rawConnect(method, bytes), `connect ${name}`);
      expectClientErrorOrUnparseable(await rawGrpcWeb(method, frame(bytes)), `grpc-web ${name}`);
      expectClientErrorOrUnparseable(await rawGrpc(method, frame(bytes)), `grpc ${name}`);
    }
    // Broken envelopes: a length promising more than is sent, a body shorter than a frame header.
    const promised = Buffer.concat([Buffer.from([0, 0, 0, 1, 0]), Buffer.from('abc')]);
    for (const body of [promised, Buffer.from([0, 0])]) {
      expectClientError(await rawGrpcWeb('WebhookService/ListWebhooks', body), `grpc-web envelope ${body.toString('hex')}`);
      expectClientError(await rawGrpc('WebhookService/ListWebhooks', body), `grpc envelope ${body.toString('hex')}`);
    }
    // Deep nesting never gets past the parser's own depth limit (100 messages), whatever the protocol.
    expect(unparseable.filter((what) => /nested/.test(what))).toHaveLength(6);
    await stillAnswers();
  });
});

describe('generated requests over Connect binary', () => {
  const hostileString = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom(...HOSTILE_IDS.slice(0, -1), ...HOSTILE_URLS, ...STATUS_STRINGS, ...DELIVERY_STATUSES),
  );
  const url = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), hostileString);
  const events = fc.array(fc.oneof(fc.constantFrom('*', ...EVENT_TYPES), hostileString), { maxLength: 5 });
  const id = fc.oneof(fc.constant(own.id), hostileString);
  const int32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, 1, 500, 501, -1));

  it('CreateWebhook, UpdateWebhook and ListDeliveries never answer a server error', async () => {
    const client = api.webhooks('connect-binary-h2', key);
    const request = fc.oneof(
      fc.record({ url, events, agent: hostileString, description: fc.string({ maxLength: 1100 }) }).map((r) => ['create', r] as const),
      fc
        .record(
          { id, url, events, agent: hostileString, description: fc.string({ maxLength: 1100 }), status: fc.oneof(fc.constantFrom('active', 'disabled'), hostileString) },
          { requiredKeys: ['id'] },
        )
        .map((r) => ['update', r] as const),
      fc
        .record({ webhookId: id, status: fc.oneof(fc.constantFrom('', 'failed', 'succeeded'), hostileString), eventType: fc.oneof(fc.constantFrom('', ...EVENT_TYPES), hostileString), pageSize: int32, pageToken: fc.oneof(fc.constant(''), hostileString, fc.base64String({ maxLength: 60 })) })
        .map((r) => ['list', r] as const),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([kind, req]) => {
        const call =
          kind === 'create' ? client.createWebhook(req) : kind === 'update' ? client.updateWebhook(req as any) : client.listDeliveries(req);
        expectNoServerError(await outcome(call), `${kind} ${JSON.stringify(req).slice(0, 300)}`);
      }),
      { numRuns: 400 },
    );
    await stillAnswers();
  });
});
