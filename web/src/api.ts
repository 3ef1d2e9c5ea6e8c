import type { Delivery, DeliveryCounts, DeliveryStatus, Page, Recovery, Webhook, WebhookInput, WebhookStatus } from './api-types.js';

/** Where the REST routes live; same origin unless the build sets VITE_API_BASE. */
const API_BASE: string = (import.meta.env.VITE_API_BASE ?? '').replace(/\/+$/, '');

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface DeliveryQuery {
  status?: DeliveryStatus | '';
  limit?: number;
  cursor?: string;
}

export type Api = ReturnType<typeof createApi>;

/**
 * A thin fetch client for the REST routes. `onUnauthorized` lets the app drop a key that
 * stopped working (revoked mid-session) instead of showing errors on every page.
 */
export function createApi(key: string, onUnauthorized: () => void = () => {}) {
  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(API_BASE + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'unavailable', 'The service could not be reached. Check your connection and try again.');
    }
    const text = await response.text();
    const json = text ? safeParse(text) : {};
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string; field?: string } }).error ?? {};
      if (response.status === 401) onUnauthorized();
      throw new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? `Request failed (HTTP ${response.status})`, error.field);
    }
    return json as T;
  }

  const id = encodeURIComponent;
  const query = (params: Record<string, string | number | undefined>): string => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, String(value));
    const text = search.toString();
    return text ? `?${text}` : '';
  };

  return {
    listWebhooks: (limit = 50, cursor = '') => request<Page<Webhook>>('GET', `/v1/webhooks${query({ limit, cursor })}`),
    getWebhook: (webhookId: string) => request<Webhook>('GET', `/v1/webhooks/${id(webhookId)}`),
    createWebhook: (input: WebhookInput) => request<Webhook>('POST', '/v1/webhooks', input),
    // The API treats an empty agent as "every agent", so an edit that clears it sends "".
    updateWebhook: (webhookId: string, change: Partial<WebhookInput> & { status?: WebhookStatus }) =>
      request<Webhook>('PATCH', `/v1/webhooks/${id(webhookId)}`, change.agent === null ? { ...change, agent: '' } : change),
    deleteWebhook: (webhookId: string) => request<unknown>('DELETE', `/v1/webhooks/${id(webhookId)}`),
    rotateSecret: (webhookId: string) => request<Webhook>('POST', `/v1/webhooks/${id(webhookId)}/rotate-secret`, {}),
    sendTestEvent: (webhookId: string) => request<Delivery>('POST', `/v1/webhooks/${id(webhookId)}/test`, {}),
    listDeliveries: (webhookId: string, q: DeliveryQuery = {}) =>
      request<Page<Delivery>>('GET', `/v1/webhooks/${id(webhookId)}/deliveries${query({ status: q.status, limit: q.limit, cursor: q.cursor })}`),
    /** Deliveries per hour by status, the last `hours` hours (the current one included). */
    deliveryCounts: (webhookId: string, hours = 24) => request<DeliveryCounts>('GET', `/v1/webhooks/${id(webhookId)}/delivery-counts${query({ hours })}`),
    getDelivery: (webhookId: string, deliveryId: string) =>
      request<Delivery>('GET', `/v1/webhooks/${id(webhookId)}/deliveries/${id(deliveryId)}`),
    retryDelivery: (webhookId: string, deliveryId: string) =>
      request<Delivery>('POST', `/v1/webhooks/${id(webhookId)}/deliveries/${id(deliveryId)}/retry`, {}),
    recoverDeliveries: (webhookId: string, since: Date) =>
      request<Recovery>('POST', `/v1/webhooks/${id(webhookId)}/recover`, { since: since.toISOString() }),
    getRecovery: (webhookId: string, recoveryId: string) => request<Recovery>('GET', `/v1/webhooks/${id(webhookId)}/recoveries/${id(recoveryId)}`),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
