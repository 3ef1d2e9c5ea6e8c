/*
 * The receiver's worker thread (an event loop of its own, so timing it is not disturbed by the
 * bench's producers); bench/receiver.ts starts it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { verifySignatureHeader } from '../src/domain/signing.js';
import { now, RAW_WEBHOOK_ID, type FromReceiver, type Receipt, type ReceiverStats, type ToReceiver } from './receipts.js';

/**
 * Answers 200 (or, by path, never: `/hang`, or 500 for the first attempts: `/flaky?fail=n`),
 * verifies each signature with the webhook's secret and reports every request in small batches.
 */
function receiverWorker(): void {
  const port = parentPort!;
  const secrets = new Map<string, string>();
  const hanging = new Set<http.ServerResponse>();
  let items: Receipt[] = [];
  const stats: ReceiverStats = { raw: 0, rawBadSignatures: 0, hanging: 0 };
  let statsDirty = false;

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = now();
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '/';
      const webhookId = String(req.headers['x-humiris-webhook'] ?? '');
      const secret = secrets.get(webhookId);
      const signatureOk = secret !== undefined && verifySignatureHeader(String(req.headers['x-humiris-signature'] ?? ''), body, secret);
      let event: { id?: string; data?: { sent_at?: number } } = {};
      try {
        event = JSON.parse(body);
      } catch {
        // counted as a bad signature below when it is not even JSON
      }
      if (webhookId === RAW_WEBHOOK_ID) {
        stats.raw++;
        if (!signatureOk || !event.id) stats.rawBadSignatures++;
        statsDirty = true;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
        return;
      }
      const attempt = Number(req.headers['x-humiris-attempt'] ?? 0);
      const base = [String(event.id ?? ''), webhookId, String(req.headers['x-humiris-delivery'] ?? ''), attempt, at, signatureOk ? 1 : 0] as const;
      const sentAt = Number(event.data?.sent_at ?? 0);
      if (url.startsWith('/hang')) {
        stats.hanging++;
        statsDirty = true;
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      let status = 200;
      if (url.startsWith('/flaky')) {
        const fail = Number(/[?&]fail=(\d+)/.exec(url)?.[1] ?? 0);
        if (attempt <= fail) status = 500;
        res.on('finish', () => items.push([...base, status, now(), sentAt]));
      }
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' }).end(status === 200 ? 'ok' : 'no');
      if (!url.startsWith('/flaky')) items.push([...base, status, at, sentAt]);
    });
  });

  const flush = setInterval(() => {
    if (items.length === 0 && !statsDirty) return;
    const batch = items;
    items = [];
    statsDirty = false;
    port.postMessage({ type: 'receipts', items: batch, stats: { ...stats } } satisfies FromReceiver);
  }, 20);

  port.on('message', (message: ToReceiver) => {
    if (message.type === 'secrets') for (const [webhookId, secret] of message.secrets) secrets.set(webhookId, secret);
    else if (message.type === 'release-hanging') for (const res of hanging) res.destroy();
    else if (message.type === 'stop') {
      clearInterval(flush);
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => port.close());
    }
  });
  server.listen(0, '127.0.0.1', () => {
    port.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies FromReceiver);
  });
}

receiverWorker();
