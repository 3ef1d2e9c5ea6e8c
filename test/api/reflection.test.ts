import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';

const api = await startTestApi('reflection');
const host = new URL(api.baseUrl).host;
const key = await api.newKey();

const SERVICES = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
  'humiris.webhooks.v1.EventService',
  'humiris.webhooks.v1.WebhookService',
];

/** A gRPC unary call as a promise, with the key in the metadata. */
function call<T>(client: grpc.Client, method: string, request: unknown): Promise<T> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve, reject) => {
    (client as any)[method](request, metadata, (error: grpc.ServiceError | null, reply: T) => (error ? reject(error) : resolve(reply)));
  });
}

describe.each(['v1', 'v1alpha'])('gRPC server reflection %s, with a reflection client and no API key', (version) => {
  const reflection = new GrpcReflection(host, grpc.credentials.createInsecure(), {}, version);
  afterAll(() => (reflection as any).client?.close?.());

  it('lists the services and their methods', async () => {
    expect((await reflection.listServices()).sort()).toEqual(SERVICES);
    const methods = (await reflection.listMethods('humiris.webhooks.v1.WebhookService')).map((m) => m.name);
    expect(methods).toEqual(
      expect.arrayContaining(['CreateWebhook', 'GetWebhook', 'ListWebhooks', 'ListDeliveries', 'RetryDelivery', 'RotateWebhookSecret']),
    );
  });

  it('gives descriptors that a gRPC client calls the API with, without the .proto files', async () => {
    const descriptor = await reflection.getDescriptorBySymbol('humiris.webhooks.v1.WebhookService');
    const loaded = descriptor.getPackageObject({ keepCase: true, defaults: true }) as any;
    const WebhookService = loaded.humiris.webhooks.v1.WebhookService as typeof grpc.Client;
    const client = new WebhookService(host, grpc.credentials.createInsecure());
    try {
      const created = await call<any>(client, 'CreateWebhook', { url: 'http://127.0.0.1:9/hook', events: ['email.received'] });
      expect(created.id).toMatch(/^whk_/);
      expect(created.signing_secret).toMatch(/^whsec_/);
      expect(created.created_at.seconds).toBeDefined();
      const listed = await call<any>(client, 'ListWebhooks', { page_size: 10 });
      expect(listed.webhooks.map((w: any) => w.id)).toContain(created.id);
    } finally {
      client.close();
    }
  });

  it('finds files by name and symbols of every kind, with their imports', async () => {
    const byFile = (await reflection.getDescriptorByFileName('humiris/webhooks/v1/resources.proto')).getProtobufJsRoot();
    expect(byFile.lookupType('humiris.webhooks.v1.Delivery').fields.attempts).toBeDefined();
    // Imports come along: Timestamp is described too.
    expect(byFile.lookupType('google.protobuf.Timestamp')).toBeDefined();
    for (const symbol of ['humiris.webhooks.v1.Webhook', 'humiris.webhooks.v1.EventService.PublishEvent', 'grpc.health.v1.Health']) {
      expect((await reflection.getDescriptorBySymbol(symbol)).getProtobufJsRoot().lookup(symbol), symbol).not.toBeNull();
    }
    await expect(reflection.getDescriptorBySymbol('humiris.webhooks.v1.Nothing')).rejects.toThrow();
  });
});

/** grpcurl where it is installed (`go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest`). */
const grpcurl = [process.env.GRPCURL, path.join(os.homedir(), 'go/bin/grpcurl'), '/usr/local/bin/grpcurl', '/usr/bin/grpcurl'].find(
  (candidate) => candidate && existsSync(candidate),
);

describe.skipIf(!grpcurl)('grpcurl', () => {
  const run = (...args: string[]) => promisify(execFile)(grpcurl!, ['-plaintext', ...args], { timeout: 20_000 });

  it('lists, describes and calls the API through reflection alone', async () => {
    expect((await run(host, 'list')).stdout.trim().split('\n').sort()).toEqual(SERVICES);
    expect((await run(host, 'describe', 'humiris.webhooks.v1.Webhook')).stdout).toMatch(/string signature_scheme = 10;/);
    const created = await run(
      '-H',
      `authorization: Bearer ${key}`,
      '-d',
      JSON.stringify({ url: 'http://127.0.0.1:9/grpcurl', events: ['*'] }),
      host,
      'humiris.webhooks.v1.WebhookService/CreateWebhook',
    );
    expect(JSON.parse(created.stdout).id).toMatch(/^whk_/);
    // The API itself still needs a key.
    await expect(run(host, 'humiris.webhooks.v1.WebhookService/ListWebhooks')).rejects.toThrow(/Unauthenticated/);
  });
});
