/** Error codes shared by every layer; the API maps each to one Connect code and HTTP status. */
export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'unauthenticated'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'payload_too_large'
  | 'unavailable'
  | 'internal';

export interface DomainErrorOptions {
  /** The request field at fault, e.g. `events[1]`. */
  field?: string;
  /** Whether trying the same thing again later can succeed. */
  retryable?: boolean;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.field = options.field;
    this.retryable = options.retryable ?? code === 'unavailable';
  }
}

export const invalidArgument = (message: string, field?: string): DomainError =>
  new DomainError('invalid_argument', message, { field });

export const notFound = (what: string): DomainError => new DomainError('not_found', `${what} not found`);
