/**
 * The records and the small interfaces the pipeline and the API need. `store/`, `bus/` and
 * `dispatch/` implement them; only `main.ts` knows which implementation serves which port.
 */

export type WebhookStatus = 'active' | 'disabled';
export type DeliveryStatus = 'pending' | 'succeeded' | 'retrying' | 'failed';

export interface SigningSecret {
  secret: string;
  /** null for the current secret; set on a rotated-out one that still signs until then. */
  expiresAt: Date | null;
}

export interface WebhookRecord {
  id: string;
  workspace: string;
  url: string;
  events: string[];
  /** null = every agent of the workspace. */
  agent: string | null;
  description: string;
  status: WebhookStatus;
  /** Newest first. */
  secrets: SigningSecret[];
  createdAt: Date;
  updatedAt: Date;
}

export interface AttemptRecord {
  number: number;
  startedAt: Date;
  durationMs: number;
  /** 0 when no response arrived. */
  responseStatus: number;
  /** At most 1 KiB. */
  responseBodyExcerpt: string;
  error: string;
  manual: boolean;
}

export interface DeliveryRecord {
  id: string;
  workspace: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  agent: string | null;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastResponseStatus: number;
  lastError: string;
  /** The exact JSON body POSTed (and signed). */
  payload: string;
  attempts: AttemptRecord[];
  createdAt: Date;
  updatedAt: Date;
}

/** A domain event after validation. */
export interface DomainEvent {
  id: string;
  type: string;
  workspace: string;
  agent: string | null;
  createdAt: Date;
  data: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  /** Empty when there is no further page. */
  nextCursor: string;
}
