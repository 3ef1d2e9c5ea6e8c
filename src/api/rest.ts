import { getOption, ScalarType, type DescField, type DescMessage, type DescMethod, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { protoCamelCase } from '@bufbuild/protobuf/reflect';
import { createContextKey, createContextValues } from '@connectrpc/connect';
import { createAsyncIterable, readAllBytes, type UniversalHandler } from '@connectrpc/connect/protocol';
import { DomainError, invalidArgument } from '../domain/errors.js';
import { depthExceeds, findInexactNumber, MAX_DATA_DEPTH, parseExactJson } from '../domain/event.js';
import { http } from '../gen/google/api/annotations_pb.js';
import { ERROR_CODE_HEADER, ERROR_FIELD_HEADER, restError } from './errors.js';
import { MAX_BODY_BYTES } from './routes.js';

/**
 * REST routes generated from the `google.api.http` annotations: a REST request is transcoded
 * into an in-process Connect unary JSON call on the very handler Connect and gRPC reach (same
 * interceptors, validation and errors), and the reply is translated back.
 */

export interface RestRequest {
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  authorization?: string;
  contentType?: string;
  /** As declared by the client, if it did. */
  contentLength?: string;
  /** W3C trace context headers, passed on to the handler. */
  traceparent?: string;
  tracestate?: string;
  body: AsyncIterable<Uint8Array>;
  signal: AbortSignal;
}

export interface RestResponse {
  status: number;
  headers: Record<string, string>;
  body: JsonValue;
}

interface Route {
  verb: string;
  pattern: RegExp;
  /** Request fields bound by the path, in capture order (dotted for nested fields). */
  pathFields: string[];
  /** `*`, a request field name, or '' for no body. */
  body: string;
  handler: UniversalHandler;
}

type Segment = string | { field: string };

/**
 * Batch methods that answer per item, by their list field: a number one item cannot carry refuses
 * that item alone (its handler reads REST_ITEM_ERRORS), not the whole request.
 */
const PER_ITEM_LISTS: Record<string, string> = { 'humiris.webhooks.v1.EventService.PublishEvents': 'events' };

/** Set on REST calls of a PER_ITEM_LISTS method: list index → why that item is refused, its field relative to the item. */
export const REST_ITEM_ERRORS = createContextKey<ReadonlyMap<number, DomainError>>(new Map(), { description: 'batch items REST refused' });

/** Event data may nest MAX_DATA_DEPTH levels; the request around it adds a few. */
const MAX_JSON_DEPTH = MAX_DATA_DEPTH + 8;

function compileTemplate(template: string): { pattern: RegExp; fields: string[] } {
  const fields: string[] = [];
  const segments: Segment[] = template
    .split('/')
    .filter(Boolean)
    .map((part) => {
      const variable = /^\{([a-z_][a-z0-9_.]*)(?:=\*)?\}$/i.exec(part);
      if (variable) return { field: variable[1]! };
      if (/[{}*]/.test(part)) throw new Error(`unsupported path template segment "${part}" in ${template}`);
      return part;
    });
  const source = segments
    .map((s) => {
      if (typeof s === 'string') return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      fields.push(s.field);
      return '([^/]+)';
    })
    .join('/');
  return { pattern: new RegExp(`^/${source}/?$`), fields };
}

/** A method's `google.api.http` rule: verb, path template and body field; undefined when it has none. */
export function httpRuleOf(method: DescMethod): { verb: string; template: string; body: string } | undefined {
  const rule = getOption(method, http);
  const { pattern } = rule;
  if (pattern.case === undefined) return undefined;
  const [verb, template] =
    pattern.case === 'custom' ? [pattern.value.kind.toUpperCase(), pattern.value.path] : [pattern.case.toUpperCase(), pattern.value];
  return { verb, template, body: rule.body };
}

/** One route per annotated method of the handlers' services. */
function buildRestRoutes(handlers: UniversalHandler[]): Route[] {
  const routes: Route[] = [];
  for (const handler of handlers) {
    const rule = httpRuleOf(handler.method);
    if (!rule) continue;
    const compiled = compileTemplate(rule.template);
    routes.push({ verb: rule.verb, pattern: compiled.pattern, pathFields: compiled.fields, body: rule.body, handler });
  }
  return routes;
}

/** Thrown from anywhere in transcoding; carries the whole answer. */
class RestFailure extends Error {
  constructor(readonly response: RestResponse) {
    super('REST request refused');
  }
}

const fail = (code: string, message: string, field?: string) => new RestFailure({ ...restError(code, message, field), headers: {} });

function fieldByQueryName(input: DescMessage, name: string): DescField | undefined {
  return input.fields.find((f) => f.name === name || f.jsonName === name);
}

/** Query values as their proto3 JSON: numbers may stay strings, booleans may not. */
function queryValue(field: DescField, raw: string): JsonValue {
  const scalar = field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar') ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) {
    if (raw !== 'true' && raw !== 'false') throw fail('invalid_argument', `query parameter ${field.name} must be true or false`, field.name);
    return raw === 'true';
  }
  return raw;
}

function setPath(target: JsonObject, dotted: string, value: JsonValue): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = (typeof next === 'object' && next !== null && !Array.isArray(next) ? next : (node[part] = {})) as JsonObject;
  }
  node[parts[parts.length - 1]!] = value;
}

const tooLarge = () => fail('payload_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);

/** `application/json`, with or without parameters such as charset. */
const isJson = (contentType: string | undefined): boolean => /^application\/json\s*(;|$)/i.test(contentType?.trim() ?? '');

/** The API carries numbers as doubles: one a double would change is refused, never altered. */
function inexactNumberIn(value: unknown, path = ''): DomainError | null {
  const inexact = findInexactNumber(value, path);
  if (!inexact) return null;
  return invalidArgument(
    `${inexact.path}: the number ${inexact.text} cannot be carried exactly (API numbers are 64-bit floats); send it as a string, or produce the event to Kafka, which keeps numbers as written`,
    inexact.path,
  );
}

interface JsonBody {
  value: JsonValue | undefined;
  itemErrors: Map<number, DomainError>;
}

/**
 * A declared Content-Length over the limit is refused before reading a byte; an undeclared one once it passes the limit.
 * With `itemList`, an item of that list holding an inexact number is refused alone (in itemErrors).
 */
async function readJsonBody(req: RestRequest, itemList?: string): Promise<JsonBody> {
  const itemErrors = new Map<number, DomainError>();
  if (Number(req.contentLength ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  let bytes: Uint8Array;
  try {
    bytes = await readAllBytes(req.body, MAX_BODY_BYTES);
  } catch {
    throw tooLarge();
  }
  if (bytes.length > 0 && !isJson(req.contentType)) {
    const got = req.contentType ? `"${req.contentType}"` : 'none';
    throw fail('unsupported_media_type', `request body must be sent with Content-Type: application/json (got ${got})`);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.trim() === '') return { value: undefined, itemErrors };
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw fail('invalid_argument', `request body is not valid JSON: ${(error as Error).message}`);
  }
  // Checked iteratively here, before anything recursive (re-encoding, protobuf parsing) touches it.
  if (depthExceeds(value, MAX_JSON_DEPTH)) throw fail('invalid_argument', `request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let exact = parseExactJson(text) as Record<string, unknown>;
  const items = itemList === undefined ? undefined : exact?.[itemList];
  if (Array.isArray(items)) {
    items.forEach((item, i) => {
      const error = inexactNumberIn(item);
      if (error) itemErrors.set(i, error);
    });
    exact = { ...exact, [itemList!]: [] };
  }
  const inexact = inexactNumberIn(exact);
  if (inexact) throw fail(inexact.code, inexact.message, inexact.field);
  return { value, itemErrors };
}

/** The request message as proto3 JSON: body, then query parameters, then path variables. */
async function transcodeRequest(route: Route, match: RegExpExecArray, url: URL, req: RestRequest): Promise<JsonBody & { message: JsonObject }> {
  const input = route.handler.method.input;
  const method = route.handler.method;
  const { value: body, itemErrors } = route.body === '' ? { value: undefined, itemErrors: new Map() } : await readJsonBody(req, PER_ITEM_LISTS[`${method.parent.typeName}.${method.name}`]);
  let message: JsonObject = {};
  if (route.body === '*') {
    if (body !== undefined) {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail('invalid_argument', 'request body must be a JSON object');
      message = { ...body };
    }
  } else if (route.body !== '' && body !== undefined) {
    message[route.body] = body;
  }

  for (const key of new Set(url.searchParams.keys())) {
    const field = route.body === '*' ? undefined : fieldByQueryName(input, key);
    if (!field || route.pathFields.includes(field.name) || field.name === route.body) {
      throw fail('invalid_argument', `unknown query parameter "${key}"`, key);
    }
    const values = url.searchParams.getAll(key).map((v) => queryValue(field, v));
    message[field.name] = field.fieldKind === 'list' ? values : values[values.length - 1]!;
  }

  route.pathFields.forEach((field, i) => {
    let value: string;
    try {
      value = decodeURIComponent(match[i + 1]!);
    } catch {
      throw fail('invalid_argument', `path parameter ${field} is not valid percent-encoding`, field);
    }
    setPath(message, field, value);
  });
  return { message, value: body, itemErrors };
}

/** Proto field names, except where the proto declares a json_name of its own (`limit`, `data`, `next_cursor`). */
export function restName(field: DescField): string {
  return field.jsonName !== protoCamelCase(field.name) ? field.jsonName : field.name;
}

/** Renames the handler's JSON (proto field names) to the REST names, recursively; well-known types keep their JSON form. */
/**
 * Fields that REST spells `null` when empty, like the JSON of the first API: proto3 strings have
 * no null, so Connect and gRPC carry them as "".
 */
export const NULL_WHEN_EMPTY: Record<string, string[]> = {
  'humiris.webhooks.v1.Webhook': ['agent'],
  'humiris.webhooks.v1.Delivery': ['agent'],
};

/** A create answers 201 Created on REST, with a Location header. */
export const answersCreated = (method: { name: string }): boolean => method.name.startsWith('Create');

function toRestJson(desc: DescMessage, json: JsonValue): JsonValue {
  if (desc.typeName.startsWith('google.protobuf.') || typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.name === key);
    if (!field) {
      out[key] = value;
      continue;
    }
    let mapped = value;
    if (field.fieldKind === 'message') mapped = toRestJson(field.message, value);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      mapped = value.map((item) => toRestJson(field.message, item));
    }
    out[restName(field)] = mapped;
  }
  for (const name of NULL_WHEN_EMPTY[desc.typeName] ?? []) if (!out[name]) out[name] = null;
  return out;
}

/** Connect JSON error → the REST error body; the field and a finer code ride on response headers. */
function translateError(status: number, header: Headers, bytes: Uint8Array): RestResponse {
  let code = 'internal';
  let message = 'internal error';
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string; message?: string };
    code = parsed.code ?? code;
    message = parsed.message ?? (status === 404 ? 'not found' : message);
  } catch {
    // Not a Connect error body: keep the generic one.
  }
  const failure = restError(header.get(ERROR_CODE_HEADER) ?? code, message, header.get(ERROR_FIELD_HEADER));
  const headers: Record<string, string> = {};
  const retryAfter = header.get('retry-after');
  if (retryAfter) headers['retry-after'] = retryAfter;
  return { status: failure.status, headers, body: failure.body };
}

export interface RestRouter {
  handle(req: RestRequest): Promise<RestResponse>;
}

export function createRestRouter(handlers: UniversalHandler[]): RestRouter {
  const routes = buildRestRoutes(handlers);

  async function dispatch(req: RestRequest): Promise<RestResponse> {
    const url = new URL(req.url, 'http://localhost');
    const candidates = routes.filter((r) => r.pattern.test(url.pathname));
    if (candidates.length === 0) throw fail('not_found', `no route for ${req.method} ${url.pathname}`);
    const route = candidates.find((r) => r.verb === req.method.toUpperCase());
    if (!route) {
      const failure = restError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
      throw new RestFailure({ ...failure, headers: { allow: candidates.map((r) => r.verb).join(', ') } });
    }
    const { message, itemErrors } = await transcodeRequest(route, route.pattern.exec(url.pathname)!, url, req);
    const header = new Headers({ 'content-type': 'application/json', 'connect-protocol-version': '1' });
    if (req.authorization !== undefined) header.set('authorization', req.authorization);
    if (req.traceparent !== undefined) header.set('traceparent', req.traceparent);
    if (req.tracestate !== undefined) header.set('tracestate', req.tracestate);
    const reply = await route.handler({
      httpVersion: '1.1',
      url: `http://localhost${route.handler.requestPath}`,
      method: 'POST',
      header,
      body: createAsyncIterable([new TextEncoder().encode(JSON.stringify(message))]),
      signal: req.signal,
      contextValues: createContextValues().set(REST_ITEM_ERRORS, itemErrors),
    });
    const bytes = reply.body ? await readAllBytes(reply.body, Number.MAX_SAFE_INTEGER) : new Uint8Array();
    const replyHeader = reply.header ?? new Headers();
    if (reply.status !== 200) return translateError(reply.status, replyHeader, bytes);
    const json = JSON.parse(new TextDecoder().decode(bytes)) as JsonValue;
    const created = answersCreated(route.handler.method);
    const body = toRestJson(route.handler.method.output, json);
    const location = created && typeof body === 'object' && body !== null && !Array.isArray(body) && typeof body.id === 'string' ? `${url.pathname}/${body.id}` : undefined;
    return { status: created ? 201 : 200, headers: location ? { location } : {}, body };
  }

  return {
    async handle(req) {
      try {
        return await dispatch(req);
      } catch (error) {
        if (error instanceof RestFailure) return error.response;
        throw error;
      }
    },
  };
}
