import { Code, ConnectError } from '@connectrpc/connect';
import { MongoNetworkError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError } from 'mongodb';
import { DomainError, type ErrorCode } from '../domain/errors.js';

/** Carries DomainError.field to every protocol: a Connect/REST response header, a gRPC trailer. */
export const ERROR_FIELD_HEADER = 'x-humiris-error-field';
/** Set only when the domain code is finer than the Connect code (payload_too_large). */
export const ERROR_CODE_HEADER = 'x-humiris-error-code';

/** THE mapping: each domain error code to one Connect code and one HTTP status. */
const MAPPING: Record<ErrorCode, { connect: Code; http: number }> = {
  invalid_argument: { connect: Code.InvalidArgument, http: 400 },
  failed_precondition: { connect: Code.FailedPrecondition, http: 400 },
  unauthenticated: { connect: Code.Unauthenticated, http: 401 },
  permission_denied: { connect: Code.PermissionDenied, http: 403 },
  not_found: { connect: Code.NotFound, http: 404 },
  already_exists: { connect: Code.AlreadyExists, http: 409 },
  payload_too_large: { connect: Code.ResourceExhausted, http: 413 },
  resource_exhausted: { connect: Code.ResourceExhausted, http: 429 },
  internal: { connect: Code.Internal, http: 500 },
  unavailable: { connect: Code.Unavailable, http: 503 },
};

/** Connect codes without a domain twin, for errors raised by the Connect runtime itself. */
const CONNECT_ONLY_HTTP: Partial<Record<string, number>> = {
  canceled: 499,
  unknown: 500,
  deadline_exceeded: 504,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  data_loss: 500,
};

/** Answers only REST gives: the request's form is wrong before any handler is reached. */
const REST_ONLY_HTTP: Partial<Record<string, number>> = {
  method_not_allowed: 405,
  unsupported_media_type: 415,
};

/** Every code a REST error body can carry, with its HTTP status (for the OpenAPI description). */
export function restErrorCodes(): Array<{ code: string; status: number }> {
  return [...Object.keys(MAPPING), ...Object.keys(CONNECT_ONLY_HTTP), ...Object.keys(REST_ONLY_HTTP)].map((code) => ({ code, status: httpStatusOf(code) }));
}

function httpStatusOf(code: string): number {
  return MAPPING[code as ErrorCode]?.http ?? CONNECT_ONLY_HTTP[code] ?? REST_ONLY_HTTP[code] ?? 500;
}

const isMongoUnreachable = (error: unknown): boolean =>
  error instanceof MongoServerSelectionError ||
  error instanceof MongoNetworkError ||
  error instanceof MongoNotConnectedError ||
  error instanceof MongoTopologyClosedError;

/** Anything thrown below the API becomes a DomainError; unknown errors are internal (and logged by the caller). */
export function toDomainError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  if (isMongoUnreachable(error)) return new DomainError('unavailable', 'the database is unavailable, try again shortly', { cause: error });
  return new DomainError('internal', 'internal error', { cause: error });
}

export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const domain = toDomainError(error);
  const { connect } = MAPPING[domain.code];
  const metadata = new Headers();
  if (domain.field) metadata.set(ERROR_FIELD_HEADER, domain.field);
  if (domain.code === 'payload_too_large') metadata.set(ERROR_CODE_HEADER, domain.code);
  return new ConnectError(domain.message, connect, metadata, undefined, error);
}

/** The REST error body: `{"error": {"code", "message", "field"?}}`. */
export interface RestError {
  status: number;
  body: { error: { code: string; message: string; field?: string } };
}

export function restError(code: string, message: string, field?: string | null): RestError {
  return { status: httpStatusOf(code), body: { error: { code, message, ...(field ? { field } : {}) } } };
}
