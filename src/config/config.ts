import os from 'node:os';
import path from 'node:path';
import { parseDuration } from '../domain/duration.js';
import type { RetrySchedule, RetryStep } from '../domain/retry-policy.js';


export type Role = 'api' | 'matcher' | 'dispatcher' | 'retry';
export const ALL_ROLES: readonly Role[] = ['api', 'matcher', 'dispatcher', 'retry'];

export interface Config {
  port: number;
  /** Serves GET /metrics on its own port; unset = on the API port. */
  metricsPort?: number;
  kafkaBrokers?: string[];
  mongodbUri?: string;
  mongodbDatabase: string;
  topicPrefix: string;
  eventPartitions: number;
  retrySchedule: RetrySchedule;
  requestTimeoutMs: number;
  maxInFlight: number;
  /** A webhook whose attempts have all failed this long (10 at least) is disabled. */
  disableAfterMs: number;
  /** Deliveries, outcomes and event bodies older than this are removed (WEBHOOKS_RETENTION). */
  retentionMs: number;
  allowPrivateUrls: boolean;
  /** WEBHOOKS_ALLOW_PRIVATE_URLS was given: the local stack's default (allowed) does not override it. */
  allowPrivateUrlsSet: boolean;
  maxWebhooksPerWorkspace: number;
  rateLimitPerMinute: number;
  logLevel: string;
  logPretty: boolean;
  /** Processes that each run the whole service on the same port (WEBHOOKS_WORKERS, `serve --workers`); 1 = no cluster. */
  workers: number;
  /** Limits of the API port against slow, idle and greedy clients. */
  apiLimits: ApiLimits;
  /** Traces: exported over OTLP/HTTP when a URL is set; a traceparent is sent to receivers either way. */
  tracing: { otlpTracesUrl?: string; serviceName: string };
  /** Running on the local default stack (set by `serve` when nothing is configured). */
  localStack?: boolean;
  stack: { dataDir: string; cacheDir: string };
}

export interface ApiLimits {
  /** Open connections at most; at the cap the oldest connection without a request in progress makes room. */
  maxConnections: number;
  /** A new connection (or a keep-alive one's next request) must deliver its request headers within this. */
  headersTimeoutMs: number;
  /** A request, body included, must arrive within this. */
  requestTimeoutMs: number;
  /** A connection with no request in progress, or no bytes moving, is closed after this. */
  idleTimeoutMs: number;
}

/** Shutdown may take the send timeout (in-flight sends finish) plus this; then what is left is abandoned. */
const SHUTDOWN_GRACE_MS = 5_000;

/** How long `serve` takes at most to exit after a signal, at this send timeout (WEBHOOKS_REQUEST_TIMEOUT). */
export const shutdownDeadlineMs = (requestTimeoutMs: number): number => requestTimeoutMs + SHUTDOWN_GRACE_MS;

export const DEFAULT_API_LIMITS: ApiLimits = { maxConnections: 1_000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 60_000 };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function read<T>(env: Env, name: string, fallback: T, parse: (raw: string) => T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return parse(raw.trim());
  } catch (error) {
    throw new ConfigError(name, `got "${raw}", ${(error as Error).message}`);
  }
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A worker count: a whole number, or `auto` for one per CPU. */
export function workerCount(raw: string): number {
  if (raw === 'auto') return os.availableParallelism();
  return integer(1, 256)(raw);
}

function boolean(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('expected true or false');
}

function list(raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error('expected a comma-separated list');
  return items;
}

function brokers(raw: string): string[] {
  const items = list(raw);
  for (const item of items) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(item)) throw new Error(`expected host:port entries, "${item}" is not one`);
  }
  return items;
}

function mongoUri(raw: string): string {
  if (!/^mongodb(\+srv)?:\/\//.test(raw)) throw new Error('expected a mongodb:// or mongodb+srv:// URI');
  return raw;
}

function retrySchedule(raw: string): RetryStep[] {
  return list(raw).map((label) => ({ label, delayMs: parseDuration(label) }));
}

function topicPrefix(raw: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/.test(raw)) throw new Error('expected letters, digits, ".", "_" or "-"');
  return raw;
}

function databaseName(raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(raw)) throw new Error('expected letters, digits, "_" or "-" (at most 63)');
  return raw;
}

function logLevel(raw: string): string {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(raw)) throw new Error(`expected one of ${levels.join(', ')}`);
  return raw;
}

function httpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('expected an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('expected an http:// or https:// URL');
  return raw;
}

/** The OTLP/HTTP traces URL as the OpenTelemetry exporters derive it: the signal's own, or the base one's `v1/traces`. */
function otlpTracesUrl(env: Env): string | undefined {
  const own = read<string | undefined>(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', undefined, httpUrl);
  const base = read<string | undefined>(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', undefined, httpUrl);
  return own ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Partitions of each topic the service creates. Every fetch makes the broker walk every partition a
 * consumer holds, busy or not, and what that allocates brings the broker's collector pauses sooner:
 * 3 instead of 6 took 45% off the median p99 at 200 events/s over five alternating runs each (README,
 * Performance), and still lets three processes match one event type side by side. Raise it for more.
 */
const DEFAULT_PARTITIONS = 3;

/** Reads and validates the environment once; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: Env = process.env): Config {
  const config: Config = {
    port: read(env, 'PORT', 8080, integer(0, 65535)),
    metricsPort: read<number | undefined>(env, 'METRICS_PORT', undefined, integer(0, 65535)),
    kafkaBrokers: read<string[] | undefined>(env, 'KAFKA_BROKERS', undefined, brokers),
    mongodbUri: read<string | undefined>(env, 'MONGODB_URI', undefined, mongoUri),
    mongodbDatabase: read(env, 'MONGODB_DATABASE', 'humiris_webhooks', databaseName),
    topicPrefix: read(env, 'WEBHOOKS_TOPIC_PREFIX', 'humiris', topicPrefix),
    eventPartitions: read(env, 'WEBHOOKS_EVENT_PARTITIONS', DEFAULT_PARTITIONS, integer(1, 1000)),
    retrySchedule: read(env, 'WEBHOOKS_RETRY_SCHEDULE', retrySchedule('30s,5m,30m,2h,24h'), retrySchedule),
    requestTimeoutMs: read(env, 'WEBHOOKS_REQUEST_TIMEOUT', 10_000, parseDuration),
    maxInFlight: read(env, 'WEBHOOKS_MAX_IN_FLIGHT', 500, integer(1, 100_000)),
    disableAfterMs: read(env, 'WEBHOOKS_DISABLE_AFTER', 5 * 86_400_000, parseDuration),
    retentionMs: read(env, 'WEBHOOKS_RETENTION', 30 * 86_400_000, parseDuration),
    allowPrivateUrls: read(env, 'WEBHOOKS_ALLOW_PRIVATE_URLS', false, boolean),
    allowPrivateUrlsSet: (env.WEBHOOKS_ALLOW_PRIVATE_URLS ?? '').trim() !== '',
    maxWebhooksPerWorkspace: read(env, 'WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE', 10_000, integer(1, 10_000_000)),
    rateLimitPerMinute: read(env, 'WEBHOOKS_RATE_LIMIT_PER_MINUTE', 6_000, integer(0, 10_000_000)),
    logLevel: read(env, 'LOG_LEVEL', 'info', logLevel),
    logPretty: read(env, 'LOG_PRETTY', false, boolean),
    workers: read(env, 'WEBHOOKS_WORKERS', 1, workerCount),
    apiLimits: {
      maxConnections: read(env, 'WEBHOOKS_API_MAX_CONNECTIONS', DEFAULT_API_LIMITS.maxConnections, integer(1, 1_000_000)),
      headersTimeoutMs: read(env, 'WEBHOOKS_API_HEADERS_TIMEOUT', DEFAULT_API_LIMITS.headersTimeoutMs, parseDuration),
      requestTimeoutMs: read(env, 'WEBHOOKS_API_REQUEST_TIMEOUT', DEFAULT_API_LIMITS.requestTimeoutMs, parseDuration),
      idleTimeoutMs: read(env, 'WEBHOOKS_API_IDLE_TIMEOUT', DEFAULT_API_LIMITS.idleTimeoutMs, parseDuration),
    },
    tracing: {
      otlpTracesUrl: otlpTracesUrl(env),
      serviceName: read(env, 'OTEL_SERVICE_NAME', 'humiris-webhooks', String),
    },
    stack: {
      dataDir: path.resolve(read(env, 'HUMIRIS_DATA_DIR', '.data', String)),
      cacheDir: path.resolve(read(env, 'HUMIRIS_CACHE_DIR', path.join(os.homedir(), '.cache', 'humiris-webhooks'), String)),
    },
  };
  return deepFreeze(config);
}

/** The variables loadConfig reads; docker-compose.yml and the README are checked against it. */
export const CONFIG_VARIABLES = [
  'PORT',
  'METRICS_PORT',
  'KAFKA_BROKERS',
  'MONGODB_URI',
  'MONGODB_DATABASE',
  'WEBHOOKS_TOPIC_PREFIX',
  'WEBHOOKS_EVENT_PARTITIONS',
  'WEBHOOKS_RETRY_SCHEDULE',
  'WEBHOOKS_REQUEST_TIMEOUT',
  'WEBHOOKS_MAX_IN_FLIGHT',
  'WEBHOOKS_DISABLE_AFTER',
  'WEBHOOKS_RETENTION',
  'WEBHOOKS_ALLOW_PRIVATE_URLS',
  'WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE',
  'WEBHOOKS_RATE_LIMIT_PER_MINUTE',
  'WEBHOOKS_API_MAX_CONNECTIONS',
  'WEBHOOKS_API_HEADERS_TIMEOUT',
  'WEBHOOKS_API_REQUEST_TIMEOUT',
  'WEBHOOKS_API_IDLE_TIMEOUT',
  'LOG_LEVEL',
  'LOG_PRETTY',
  'WEBHOOKS_WORKERS',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'HUMIRIS_DATA_DIR',
  'HUMIRIS_CACHE_DIR',
] as const;
