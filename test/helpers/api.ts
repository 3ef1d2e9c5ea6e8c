import path from 'node:path';
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { MongoClient, type Db } from 'mongodb';
import { cleanUp } from './cleanup.js';
import { EventService } from '../../src/gen/humiris/webhooks/v1/event_service_pb.js';
import { WebhookService } from '../../src/gen/humiris/webhooks/v1/webhook_service_pb.js';
import type { Role } from '../../src/config/config.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { mongodbUri, uniqueName } from './servers.js';
import { startTestService, type TestService } from './service.js';

const root = new URL('../..', import.meta.url).pathname;

export interface TestApi extends TestService {
  /** The service's own database, to look behind the API. */
  db: Db;
  keys: ApiKeyStore;
  /** A key of a fresh workspace of its own unless one is named. */
  newKey(workspace?: string): Promise<string>;
  /** Connect (JSON or binary), gRPC-Web or gRPC transports on the one port, authenticated with `key`. */
  transport(kind: TransportKind, key?: string): Transport;
  webhooks(kind: TransportKind, key?: string): Client<typeof WebhookService>;
  events(kind: TransportKind, key?: string): Client<typeof EventService>;
  /** fetch on a REST route with the key as a bearer token. */
  rest(method: string, route: string, key?: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }>;
}

export type TransportKind = 'connect-json-h1' | 'connect-binary-h2' | 'grpc-web-h1' | 'grpc-h2';

/** The API role (alone unless other roles are named) on a database of its own, plus a key store to seed keys with. */
export async function startTestApi(label: string, env: Record<string, string> = {}, roles: Role[] = ['api']): Promise<TestApi> {
  const service = await startTestService(label, env, roles);
  const client = await MongoClient.connect(mongodbUri());
  cleanUp(() => client.close());
  const db = client.db(service.config.mongodbDatabase);
  const keys = new ApiKeyStore(db);
  const { baseUrl } = service;

  const transport = (kind: TransportKind, key?: string): Transport => {
    const interceptors = key ? [authorize(key)] : [];
    switch (kind) {
      case 'connect-json-h1':
        return createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors });
      case 'connect-binary-h2':
        return createConnectTransport({ baseUrl, httpVersion: '2', useBinaryFormat: true, interceptors });
      case 'grpc-web-h1':
        return createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors });
      case 'grpc-h2':
        return createGrpcTransport({ baseUrl, interceptors });
    }
  };

  return {
    ...service,
    db,
    keys,
    async newKey(workspace = uniqueName('ws').toLowerCase().replace(/_/g, '-')) {
      return (await keys.create(workspace.slice(0, 60), 'test')).key;
    },
    transport,
    webhooks: (kind, key) => createClient(WebhookService, transport(kind, key)),
    events: (kind, key) => createClient(EventService, transport(kind, key)),
    async rest(method, route, key, body) {
      const headers: Record<string, string> = {};
      if (key) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${baseUrl}${route}`, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      return { status: res.status, headers: res.headers, json };
    },
  };
}

const authorize =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };

/** A plain @grpc/grpc-js client from the .proto files, insecure credentials, closed after the test that made it (cleanup.ts). */
export function grpcJsClient(baseUrl: string, service: 'WebhookService' | 'EventService'): grpc.Client & Record<string, any> {
  const definition = protoLoader.loadSync(['humiris/webhooks/v1/webhook_service.proto', 'humiris/webhooks/v1/event_service.proto'], {
    includeDirs: [path.join(root, 'proto'), path.join(root, 'node_modules/google-proto-files')],
    keepCase: true,
    defaults: true,
    longs: String,
  });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const Ctor = loaded.humiris.webhooks.v1[service] as typeof grpc.Client;
  const client = new Ctor(new URL(baseUrl).host, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
  cleanUp(() => client.close());
  return client;
}

/** A grpc-js unary call as a promise, with the key in the `authorization` metadata. */
export function grpcCall<T>(client: Record<string, any>, method: string, request: unknown, key?: string): Promise<T> {
  const metadata = new grpc.Metadata();
  if (key) metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, (error: grpc.ServiceError | null, reply: T) => (error ? reject(error) : resolve(reply)));
  });
}
