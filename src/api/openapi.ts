import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import {
  createFileRegistry,
  fromBinary,
  ScalarType,
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { restErrorCodes } from './errors.js';
import { answersCreated, httpRuleOf, NULL_WHEN_EMPTY, restName } from './rest.js';

/**
 * OpenAPI 3.1 for the REST routes, generated from the same `google.api.http` annotations and
 * field names the REST router uses (rest.ts). `npm run openapi` writes it to docs/openapi.json
 * from a buf build of proto/ (which keeps the comments); the server serves that file.
 */

/** The checked-in document; src/api and dist/api both sit two levels below the root. */
export const OPENAPI_FILE = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));

/** The package whose services make the public API (health and reflection are not REST). */
const API_PACKAGE = 'humiris.webhooks.v1';

type Json = { [key: string]: unknown };

/** The REST error responses, by HTTP status; each lists the codes it carries. */
const ERROR_RESPONSES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthenticated',
  404: 'NotFound',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  500: 'Internal',
  503: 'Unavailable',
};

/** Proto3 JSON forms of the well-known types the API uses. */
const WELL_KNOWN: Record<string, Json> = {
  'google.protobuf.Timestamp': { type: 'string', format: 'date-time', examples: ['2026-01-01T10:00:00Z'] },
  'google.protobuf.Duration': { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$', examples: ['3600s'] },
  'google.protobuf.Struct': { type: 'object', additionalProperties: true },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array', items: {} },
  'google.protobuf.Empty': { type: 'object' },
};

function sourcePath(desc: DescMessage | DescField | DescService | DescMethod | DescEnum): number[] {
  switch (desc.kind) {
    case 'message':
      return desc.parent
        ? [...sourcePath(desc.parent), 3, desc.parent.proto.nestedType.indexOf(desc.proto)]
        : [4, desc.file.proto.messageType.indexOf(desc.proto)];
    case 'enum':
      return desc.parent ? [...sourcePath(desc.parent), 4, desc.parent.proto.enumType.indexOf(desc.proto)] : [5, desc.file.proto.enumType.indexOf(desc.proto)];
    case 'field':
      return [...sourcePath(desc.parent), 2, desc.parent.proto.field.indexOf(desc.proto)];
    case 'service':
      return [6, desc.file.proto.service.indexOf(desc.proto)];
    case 'rpc':
      return [...sourcePath(desc.parent), 2, desc.parent.proto.method.indexOf(desc.proto)];
  }
}

function fileOf(desc: DescMessage | DescField | DescService | DescMethod | DescEnum): DescFile {
  if (desc.kind === 'field' || desc.kind === 'rpc') return desc.parent.file;
  return desc.file;
}

/** The leading comment of an element in the proto, one paragraph; undefined without source info. */
function commentOf(desc: DescMessage | DescField | DescService | DescMethod | DescEnum): string | undefined {
  const path = sourcePath(desc);
  const location = fileOf(desc).proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  const text = location?.leadingComments
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
  return text || undefined;
}

const withDescription = (schema: Json, description: string | undefined): Json => (description ? { ...schema, description } : schema);

function scalarSchema(scalar: ScalarType): Json {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.BYTES:
      return { type: 'string', contentEncoding: 'base64' };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: 'number' };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', format: 'int32' };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', format: 'int32', minimum: 0 };
    default:
      // 64-bit integers are strings in proto3 JSON (numbers are accepted on input).
      return { type: ['string', 'integer'], format: 'int64' };
  }
}

class SchemaBuilder {
  readonly schemas: Record<string, Json> = {};
  private readonly names = new Map<string, string>();

  /** Messages reachable from a response: their fields without explicit presence are always present. */
  constructor(private readonly responseTypes: Set<string>) {}

  ref(message: DescMessage): Json {
    const wellKnown = WELL_KNOWN[message.typeName];
    if (wellKnown) return wellKnown;
    const owner = this.names.get(message.name);
    if (owner !== undefined && owner !== message.typeName) throw new Error(`two messages named ${message.name}: ${owner} and ${message.typeName}`);
    if (owner === undefined) {
      this.names.set(message.name, message.typeName);
      this.schemas[message.name] = {}; // placed first, so recursion ends
      this.schemas[message.name] = this.object(message, [], this.responseTypes.has(message.typeName));
    }
    return { $ref: `#/components/schemas/${message.name}` };
  }

  /** A message as a JSON object, leaving out `omit` (fields bound by the path). */
  object(message: DescMessage, omit: string[], response: boolean): Json {
    const properties: Json = {};
    const required: string[] = [];
    for (const field of message.fields) {
      if (omit.includes(field.name)) continue;
      const name = restName(field);
      properties[name] = this.field(field, !response || (NULL_WHEN_EMPTY[message.typeName]?.includes(field.name) ?? false));
      // Emitted always (alwaysEmitImplicit): scalars, enums, lists and maps without explicit presence.
      if (response && (field.fieldKind === 'list' || field.fieldKind === 'map' || (field.fieldKind !== 'message' && field.proto.proto3Optional !== true && field.oneof === undefined))) {
        required.push(name);
      }
    }
    return withDescription(
      { type: 'object', ...(required.length > 0 ? { required } : {}), properties, additionalProperties: false },
      commentOf(message),
    );
  }

  /** `nullable`: a request may send null for a field, which means its default. */
  field(field: DescField, nullable: boolean): Json {
    const orNull = (schema: Json): Json => (nullable && typeof schema.type === 'string' ? { ...schema, type: [schema.type, 'null'] } : schema);
    let schema: Json;
    switch (field.fieldKind) {
      case 'scalar':
        schema = orNull(scalarSchema(field.scalar));
        break;
      case 'enum':
        schema = orNull(enumSchema(field.enum));
        break;
      case 'message':
        schema = this.ref(field.message);
        break;
      case 'list':
        schema = {
          type: 'array',
          items: field.listKind === 'scalar' ? scalarSchema(field.scalar) : field.listKind === 'enum' ? enumSchema(field.enum) : this.ref(field.message),
        };
        break;
      case 'map':
        schema = {
          type: 'object',
          additionalProperties:
            field.mapKind === 'scalar' ? scalarSchema(field.scalar) : field.mapKind === 'enum' ? enumSchema(field.enum) : this.ref(field.message),
        };
        break;
    }
    return withDescription(schema, commentOf(field));
  }
}

function enumSchema(desc: DescEnum): Json {
  return withDescription({ type: 'string', enum: desc.values.map((v) => v.name) }, commentOf(desc));
}

function reachableMessages(roots: DescMessage[]): Set<string> {
  const seen = new Set<string>();
  const visit = (message: DescMessage) => {
    if (seen.has(message.typeName)) return;
    seen.add(message.typeName);
    for (const field of message.fields) if (field.message) visit(field.message);
  };
  roots.forEach(visit);
  return seen;
}

function fieldAt(message: DescMessage, dotted: string): DescField {
  const [head, ...rest] = dotted.split('.');
  const field = message.fields.find((f) => f.name === head);
  if (!field) throw new Error(`${message.typeName} has no field ${head}`);
  if (rest.length === 0) return field;
  if (!field.message) throw new Error(`${message.typeName}.${head} is not a message`);
  return fieldAt(field.message, rest.join('.'));
}

const errorResponse = (status: number) => ({ $ref: `#/components/responses/${ERROR_RESPONSES[status]}` });
const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

function operation(method: DescMethod, builder: SchemaBuilder): { path: string; verb: string; operation: Json } | undefined {
  const rule = httpRuleOf(method);
  if (!rule) return undefined;
  const pathFields = [...rule.template.matchAll(/\{([a-z_][a-z0-9_.]*)(?:=\*)?\}/gi)].map((m) => m[1]!);
  const path = rule.template.replace(/\{([a-z_][a-z0-9_.]*)(?:=\*)?\}/gi, '{$1}');
  const parameters: Json[] = pathFields.map((name) => {
    const field = fieldAt(method.input, name);
    return withDescription({ name, in: 'path', required: true, schema: scalarOnly(builder.field(field, false)) }, commentOf(field));
  });
  if (rule.body !== '*') {
    for (const field of method.input.fields) {
      if (pathFields.includes(field.name) || field.name === rule.body) continue;
      const schema = builder.field(field, false);
      const { description, ...bare } = schema;
      parameters.push({ name: restName(field), in: 'query', required: false, ...(description ? { description } : {}), schema: bare });
    }
  }
  const result: Json = {
    operationId: lowerFirst(method.name),
    tags: [method.parent.name],
    ...(commentOf(method) ? { description: commentOf(method) } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
  };
  if (rule.body !== '') {
    const schema = rule.body === '*' ? builder.object(method.input, pathFields, false) : builder.field(fieldAt(method.input, rule.body), false);
    // A `*` body may be left out (every field takes its default); a named one carries the message.
    result.requestBody = { required: rule.body !== '*', content: { 'application/json': { schema } } };
  }
  const statuses = [400, 401, ...(pathFields.length > 0 ? [404] : []), ...(rule.body !== '' ? [413, 415] : []), 429, 500, 503];
  result.responses = {
    ...(answersCreated(method)
      ? {
          '201': {
            description: 'Created',
            headers: { Location: { description: 'Where the new resource is read', schema: { type: 'string' } } },
            content: { 'application/json': { schema: builder.ref(method.output) } },
          },
        }
      : { '200': { description: 'OK', content: { 'application/json': { schema: builder.ref(method.output) } } } }),
    ...Object.fromEntries(statuses.map((status) => [String(status), errorResponse(status)])),
  };
  return { path, verb: rule.verb.toLowerCase(), operation: result };
}

/** Path parameters are plain strings: a description inside the schema is moved out by the caller. */
function scalarOnly(schema: Json): Json {
  const { description: _description, ...bare } = schema;
  return bare;
}

function errorComponents(): { schemas: Json; responses: Json } {
  const codes = restErrorCodes();
  const responses: Json = {};
  for (const [status, name] of Object.entries(ERROR_RESPONSES)) {
    const carried = codes.filter((c) => c.status === Number(status)).map((c) => `\`${c.code}\``);
    const response: Json = {
      description: `${name.replace(/([a-z])([A-Z])/g, '$1 $2')}: code ${carried.join(', ')}.`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
    if (Number(status) === 429) {
      response.headers = { 'Retry-After': { description: 'Seconds until the key may call again.', schema: { type: 'integer' } } };
    }
    responses[name] = response;
  }
  const schemas = {
    Error: {
      type: 'object',
      description: 'Every REST error. `field` names the request field at fault (`events[1]`, `data.amount`), when there is one.',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: codes.map((c) => c.code) },
            message: { type: 'string' },
            field: { type: 'string' },
          },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
  };
  return { schemas, responses };
}

/** Routes served beside the proto's, without a key. */
function operationalPaths(): Json {
  const status = (values: string[], extra: Json = {}) => ({
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: values }, ...extra },
  });
  return {
    '/healthz': {
      get: {
        operationId: 'healthz',
        tags: ['Operations'],
        description: 'The process is up.',
        security: [],
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: status(['ok']) } } } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        tags: ['Operations'],
        description: 'Kafka and MongoDB answer.',
        security: [],
        responses: {
          '200': { description: 'Ready', content: { 'application/json': { schema: status(['ready']) } } },
          '503': { description: 'Not ready, with the reason', content: { 'application/json': { schema: status(['unavailable'], { reason: { type: 'string' } }) } } },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['Operations'],
        description: 'This document.',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the REST routes of `services`. */
export function openApiDocument(services: DescService[], version: string): Json {
  const methods = services.flatMap((s) => s.methods);
  const builder = new SchemaBuilder(reachableMessages(methods.map((m) => m.output)));
  const paths: Record<string, Json> = {};
  for (const method of methods) {
    const op = operation(method, builder);
    if (!op) continue;
    paths[op.path] = { ...paths[op.path], [op.verb]: op.operation };
  }
  const errors = errorComponents();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Humiris Webhooks API',
      version,
      description:
        'REST routes of the Humiris Webhooks API, generated from its Protobuf description (proto/humiris/webhooks/v1). ' +
        'The same methods are served as Connect, gRPC and gRPC-Web on the same port. Field names are the proto field names, except where the proto declares a JSON name of its own.',
    },
    servers: [{ url: 'http://localhost:8080' }],
    security: [{ bearerAuth: [] }],
    tags: [
      ...services.map((s) => withDescription({ name: s.name }, commentOf(s))),
      { name: 'Operations', description: 'Health, readiness and this document; no key needed.' },
    ],
    paths: { ...paths, ...operationalPaths() },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer hum_sk_live_…` (or `hum_sk_test_…`).' },
      },
      schemas: { ...builder.schemas, ...errors.schemas },
      responses: errors.responses,
    },
  };
}

/** From a FileDescriptorSet with source info (`buf build --as-file-descriptor-set`), so descriptions carry the proto's comments. */
export function openApiFromDescriptorSet(bytes: Uint8Array, version: string): Json {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  const services: DescService[] = [];
  for (const file of registry.files) if (file.proto.package === API_PACKAGE) services.push(...file.services);
  services.sort((a, b) => a.typeName.localeCompare(b.typeName));
  if (services.length === 0) throw new Error(`no services of ${API_PACKAGE} in the descriptor set`);
  return openApiDocument(services, version);
}

/** The document's text as written to docs/openapi.json. */
export const openApiText = (document: Json): string => `${JSON.stringify(document, null, 2)}\n`;

let served: Buffer | undefined;

/** GET /openapi.json, without a key: the checked-in document. */
export function serveOpenApi(res: http.ServerResponse | http2.Http2ServerResponse): void {
  served ??= readFileSync(OPENAPI_FILE);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': served.length,
    // A schema only: documentation tools on other origins may read it.
    'access-control-allow-origin': '*',
  });
  res.end(served);
}
