import { createHash } from 'node:crypto';
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import { invalidArgument as invalid } from './errors.js';
import { isEventType } from './event-types.js';

export const WORKSPACE_SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const AGENT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const EVENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Deeper data is refused: receivers' JSON parsers (and ours) would choke on it. */
export const MAX_DATA_DEPTH = 64;

export interface EventDefaults {
  /** The type the topic stands for; the envelope's type must match it when both are given. */
  topicType?: string;
  /** Used when the envelope has no `created_at`. */
  createdAt: Date;
  /** Used when the envelope has no `id`: derived from where the event came from, so reprocessing repeats it. */
  id: string;
}

export interface ValidEvent {
  id: string;
  type: string;
  workspace: string;
  agent: string | null;
  createdAt: Date;
  data: Record<string, unknown>;
}

/**
 * JSON.parse, except that a number whose text a double would change (9007199254740993, 1e400,
 * 1.0, -0) keeps its exact text, so the body receivers get carries the producer's numbers.
 */
export function parseExactJson(text: string): unknown {
  return parse(text, null, (digits) => {
    const value = Number(digits);
    return String(value) === digits ? value : new LosslessNumber(digits);
  });
}

/** One number as sign, significant digits and exponent, so `1.0`, `1` and `10e-1` compare equal. */
function decimalKey(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return text;
  const fraction = m[3] ?? '';
  let digits = (m[2]! + fraction).replace(/^0+/, '');
  let exponent = Number(m[4] ?? 0) - fraction.length;
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  exponent += digits.length - significant.length;
  digits = significant;
  return `${m[1]}${digits}e${exponent}`;
}

/**
 * The first number in a value from parseExactJson whose value a double cannot hold (9007199254740993,
 * 1e400), with where it is; null when every number survives as a double (1.0 and 0.1 do).
 */
export function findInexactNumber(value: unknown, path = ''): { path: string; text: string } | null {
  if (isLosslessNumber(value)) {
    const double = Number(value.value);
    return Number.isFinite(double) && decimalKey(String(double)) === decimalKey(value.value) ? null : { path, text: value.value };
  }
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const found = findInexactNumber(inner, Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key);
    if (found) return found;
  }
  return null;
}

/** proto3 JSON may spell an unset optional field as missing, null or "". */
const isUnset = (value: unknown): value is undefined | null | '' => value === undefined || value === null || value === '';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** Iterative, so a hostile 10,000-level object cannot overflow the stack here. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null || isLosslessNumber(current)) continue;
    if (depth > max) return true;
    for (const inner of Object.values(current)) stack.push([inner, depth + 1]);
  }
  return false;
}

/** Checks an event envelope (the proto3 JSON of humiris.webhooks.v1.Event) and fills its defaults. */
export function validateEvent(raw: unknown, defaults: EventDefaults): ValidEvent {
  if (!isPlainObject(raw)) throw invalid('the event must be a JSON object', '');

  const type = raw.type ?? defaults.topicType;
  if (typeof type !== 'string' || type === '') throw invalid('type is missing', 'type');
  if (!isEventType(type)) throw invalid(`unknown event type "${type}"`, 'type');
  if (defaults.topicType !== undefined && type !== defaults.topicType) {
    throw invalid(`type "${type}" does not match its topic's type "${defaults.topicType}"`, 'type');
  }

  const { workspace } = raw;
  if (isUnset(workspace)) throw invalid('workspace is missing', 'workspace');
  if (typeof workspace !== 'string' || !WORKSPACE_SLUG.test(workspace)) {
    throw invalid('workspace must be a slug like "acme" ([a-z0-9][a-z0-9-]{1,62})', 'workspace');
  }

  let agent: string | null = null;
  if (!isUnset(raw.agent)) {
    if (typeof raw.agent !== 'string' || !AGENT_SLUG.test(raw.agent)) {
      throw invalid('agent must be null or a slug like "support-bot" ([a-z0-9][a-z0-9_-]{0,62})', 'agent');
    }
    agent = raw.agent;
  }

  let id = defaults.id;
  if (!isUnset(raw.id)) {
    if (typeof raw.id !== 'string' || !EVENT_ID.test(raw.id)) {
      throw invalid('id must be 1-128 letters, digits or "_.:-"', 'id');
    }
    id = raw.id;
  }

  let createdAt = defaults.createdAt;
  if (!isUnset(raw.created_at)) {
    const parsed = typeof raw.created_at === 'string' && /^\d{4}-\d\d-\d\dT/.test(raw.created_at) ? new Date(raw.created_at) : null;
    if (parsed === null || Number.isNaN(parsed.getTime())) throw invalid('created_at must be an RFC 3339 timestamp', 'created_at');
    createdAt = parsed;
  }

  const { data } = raw;
  if (!isPlainObject(data)) throw invalid('data must be a JSON object', 'data');
  if (depthExceeds(data, MAX_DATA_DEPTH)) throw invalid(`data is nested deeper than ${MAX_DATA_DEPTH} levels`, 'data');

  return { id, type, workspace, agent, createdAt, data };
}

/** The exact JSON body POSTed to receivers (and signed); numbers keep the text they came with. */
export function eventPayload(event: ValidEvent): string {
  return stringify({
    id: event.id,
    type: event.type,
    created_at: event.createdAt.toISOString(),
    agent: event.agent,
    data: event.data,
  })!;
}

/**
 * What makes two events with one id the same event: type, agent and data (created_at may be
 * filled from each record's timestamp, so a producer's resend can differ there alone).
 */
export function eventDigest(event: ValidEvent): string {
  return createHash('sha256').update(stringify([event.type, event.agent, event.data])!).digest('base64url');
}
