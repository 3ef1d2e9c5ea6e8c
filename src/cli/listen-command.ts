import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { verifySignatureHeader, verifyStandardSignature } from '../domain/signing.js';

export const LISTEN_USAGE = `Usage: humiris-webhooks listen [--port 4000] [--status 200] [--secret whsec_… | --webhook whk_…] [--api URL]

  A local receiver for webhook deliveries. It prints one line per request (event type,
  delivery id, attempt, whether the signature is valid) and answers with --status.

  Signatures are checked with --secret; or with the secret of --webhook; or, with neither, with
  the secret of each delivery's own webhook (X-Humiris-Webhook). The last two read the secret from
  the API at --api (default $HUMIRIS_API_URL, else http://localhost:8080) with the key in
  HUMIRIS_API_KEY.

  In a terminal: f switches between --status and 500 (200 when --status is a failure), q quits.
`;

const DEFAULT_API = 'http://localhost:8080';
const FAILING_STATUS = 500;
/** A secret that verified nothing is read again, at most this often: the webhook's may have been rotated. */
const REFETCH_AFTER_MS = 5_000;
/** Requests larger than any delivery (1 MiB events) are cut off: this is a development tool. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface ListenOptions {
  port: number;
  status: number;
  secret?: string;
  webhook?: string;
  api: string;
  apiKey?: string;
}

class UsageError extends Error {}

function parseStatus(raw: string): number {
  const status = Number(raw);
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new UsageError(`--status takes an HTTP status from 200 to 599, got "${raw}"`);
  return status;
}

export function parseListenArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ListenOptions | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '4000' },
      status: { type: 'string', default: '200' },
      secret: { type: 'string' },
      webhook: { type: 'string' },
      api: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a port number, got "${values.port}"`);
  if (values.secret !== undefined && values.webhook !== undefined) throw new UsageError('give --secret or --webhook, not both');
  if (values.secret !== undefined && !values.secret.startsWith('whsec_')) throw new UsageError('--secret takes the whole whsec_… string');
  if (values.webhook !== undefined && !/^whk_[0-9A-Za-z]+$/.test(values.webhook)) throw new UsageError(`--webhook takes a webhook id (whk_…), got "${values.webhook}"`);
  const api = (values.api ?? env.HUMIRIS_API_URL ?? DEFAULT_API).replace(/\/+$/, '');
  if (!/^https?:\/\/./.test(api)) throw new UsageError(`--api takes the service's base URL, e.g. ${DEFAULT_API}, got "${api}"`);
  const apiKey = env.HUMIRIS_API_KEY?.trim() || undefined;
  if (values.webhook !== undefined && apiKey === undefined) throw new UsageError('--webhook reads the secret from the API: set HUMIRIS_API_KEY');
  return { port, status: parseStatus(values.status), secret: values.secret, webhook: values.webhook, api, apiKey };
}

type SecretLookup = { secret: string; fetchedAt: number } | { problem: string };

/** Reads secrets from the API's GetWebhookSecret, one request per webhook at a time. */
function secretsFromApi(api: string, apiKey: string) {
  const cache = new Map<string, Promise<SecretLookup>>();
  const fetchSecret = async (webhookId: string): Promise<SecretLookup> => {
    try {
      const res = await fetch(`${api}/v1/webhooks/${encodeURIComponent(webhookId)}/secret`, {
        headers: { authorization: `Bearer ${apiKey}` },
        // The delivery waits for its answer meanwhile: well within the sender's timeout.
        signal: AbortSignal.timeout(3_000),
      });
      const body = (await res.json().catch(() => ({}))) as { signing_secret?: string; error?: { code?: string } };
      if (res.ok && body.signing_secret) return { secret: body.signing_secret, fetchedAt: Date.now() };
      return { problem: `could not read the secret of ${webhookId}: ${res.status} ${body.error?.code ?? ''}`.trim() };
    } catch (error) {
      return { problem: `could not read the secret of ${webhookId} from ${api}: ${(error as Error).message}` };
    }
  };
  return {
    get(webhookId: string, refresh = false): Promise<SecretLookup> {
      let entry = cache.get(webhookId);
      if (!entry || refresh) {
        entry = fetchSecret(webhookId);
        cache.set(webhookId, entry);
        // A failure is not kept: the service may just not be up yet.
        void entry.then((found) => 'problem' in found && cache.get(webhookId) === entry && cache.delete(webhookId));
      }
      return entry;
    },
  };
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** `valid`, or why not, for every signature header the request carries. */
function checkSignatures(req: IncomingMessage, body: string, secret: string): string {
  const humiris = header(req, 'x-humiris-signature');
  const standard = header(req, 'webhook-signature');
  if (humiris === undefined && standard === undefined) return 'signature missing';
  const bad: string[] = [];
  if (humiris !== undefined && !verifySignatureHeader(humiris, body, secret)) bad.push('X-Humiris-Signature');
  const standardHeaders = { id: header(req, 'webhook-id') ?? '', timestamp: header(req, 'webhook-timestamp') ?? '', signature: standard ?? '' };
  if (standard !== undefined && !verifyStandardSignature(standardHeaders, body, secret)) bad.push('webhook-signature');
  return bad.length === 0 ? 'signature valid' : `signature INVALID (${bad.join(', ')})`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface Listener {
  port: number;
  status(): number;
  /** Between the chosen status and failing; returns the status answered from now on. */
  toggle(): number;
  close(): Promise<void>;
}

/** The receiver itself, on 127.0.0.1 and (where there is one) ::1, so `localhost` reaches it either way. */
export async function startListener(options: ListenOptions, print: (line: string) => void): Promise<Listener> {
  const lookup = options.apiKey && !options.secret ? secretsFromApi(options.api, options.apiKey) : undefined;
  const other = options.status < 300 ? FAILING_STATUS : 200;
  let status = options.status;
  const seen = new Set<string>();

  const secretFor = async (webhookId: string | undefined, refresh = false): Promise<SecretLookup> => {
    if (options.secret) return { secret: options.secret, fetchedAt: Infinity };
    const id = options.webhook ?? webhookId;
    if (!lookup) return { problem: 'no --secret, --webhook or HUMIRIS_API_KEY' };
    if (!id) return { problem: 'no X-Humiris-Webhook header' };
    return lookup.get(id, refresh);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const answer = status;
    const deliveryId = header(req, 'x-humiris-delivery') ?? header(req, 'webhook-id');
    const now = new Date();
    const time = `${now.toTimeString().slice(0, 8)}.${String(now.getMilliseconds()).padStart(3, '0')}`;
    if (deliveryId === undefined) {
      print(`${time}  ${req.method} ${req.url}  not a delivery (no X-Humiris-Delivery)  → ${answer}`);
    } else {
      const attempt = header(req, 'x-humiris-attempt') ?? '?';
      let found = await secretFor(header(req, 'x-humiris-webhook'));
      let signature = 'secret' in found ? checkSignatures(req, body, found.secret) : `signature not checked: ${found.problem}`;
      if (signature.startsWith('signature INVALID') && 'secret' in found && Date.now() - found.fetchedAt > REFETCH_AFTER_MS) {
        found = await secretFor(header(req, 'x-humiris-webhook'), true);
        if ('secret' in found) signature = checkSignatures(req, body, found.secret);
      }
      const key = `${deliveryId}#${attempt}`;
      const again = seen.has(key) ? '  (again: same delivery and attempt)' : '';
      seen.add(key);
      const type = header(req, 'x-humiris-event') ?? 'event';
      print(`${time}  ${type}  ${deliveryId}  attempt ${attempt}  ${signature}  → ${answer}${again}`);
    }
    res.writeHead(answer, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`humiris-webhooks listen answered ${answer}\n`);
  };

  if (options.webhook && lookup) {
    // Read at once, so a wrong id or key shows before the first delivery does.
    const found = await lookup.get(options.webhook);
    if ('problem' in found) throw new Error(found.problem);
  }

  const servers: Server[] = [];
  const listenOn = (host: string, port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          print(`request failed: ${(error as Error).message}`);
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        servers.push(server);
        resolve(server);
      });
    });

  const first = await listenOn('127.0.0.1', options.port);
  const port = (first.address() as AddressInfo).port;
  await listenOn('::1', port).catch((error: NodeJS.ErrnoException) => {
    // No IPv6 loopback: `localhost` resolves to 127.0.0.1 only. Anything else is worth saying.
    if (error.code !== 'EADDRNOTAVAIL' && error.code !== 'EAFNOSUPPORT') print(`warning: not listening on [::1]:${port}: ${error.message}`);
  });

  return {
    port,
    status: () => status,
    toggle() {
      status = status === options.status ? other : options.status;
      return status;
    },
    async close() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}

function describeSecrets(options: ListenOptions): string {
  if (options.secret) return 'Signatures are checked with the --secret given.';
  if (!options.apiKey) return 'Signatures are not checked: give --secret, or set HUMIRIS_API_KEY to read each webhook’s secret from the API.';
  if (options.webhook) return `Signatures are checked with the secret of ${options.webhook}.`;
  return `Signatures are checked with the secret of each delivery’s webhook, read from ${options.api}.`;
}

export async function listenCommand(args: string[]): Promise<number> {
  let options: ListenOptions | 'help';
  try {
    options = parseListenArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    process.stderr.write(`${error.message}\n${LISTEN_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(LISTEN_USAGE);
    return 0;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let listener: Listener;
  try {
    listener = await startListener(options, say);
  } catch (error) {
    process.stderr.write(`Cannot start the listener: ${(error as Error).message}\n`);
    return 1;
  }

  // Handled before it says it listens: a script may signal it as soon as it reads that line.
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  say(`Listening on http://localhost:${listener.port}/ and answering ${listener.status()}. ${describeSecrets(options)}`);
  const stdin = process.stdin;
  const keyboard = stdin.isTTY === true;
  if (keyboard) say(`Keys: f = answer ${options.status < 300 ? FAILING_STATUS : 200} / ${options.status} (switch), q = quit`);
  else say('Stop with Ctrl-C.');

  if (keyboard) {
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', (keys: string) => {
      for (const key of keys) {
        if (key === 'f' || key === 'F') say(`Now answering ${listener.toggle()}.`);
        // Raw mode turns Ctrl-C and Ctrl-D into plain characters.
        else if (key === 'q' || key === 'Q' || key === '\u0003' || key === '\u0004') stop();
      }
    });
  }
  await stopped;
  if (keyboard) {
    stdin.setRawMode(false);
    stdin.pause();
  }
  await listener.close();
  return 0;
}
