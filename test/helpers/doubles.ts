import type { DeliveryTask, TaskQueue, WebhookRecord } from '../../src/pipeline/ports.js';

/** An active webhook subscribed to every type, for tests that need one as the store returns it. */
export const webhookRecord = (id: string, workspace = 'acme'): WebhookRecord => ({
  id,
  workspace,
  url: `https://${id}.example.com/hook`,
  events: ['*'],
  agent: null,
  description: '',
  status: 'active',
  secrets: [{ secret: 'whsec_test', expiresAt: null }],
  signatureScheme: 'humiris',
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

/** A task queue that keeps what is enqueued in `tasks` and takes everything else silently. */
export const enqueueInto = (tasks: DeliveryTask[]): TaskQueue => ({
  enqueue: async (t) => void tasks.push(...t),
  scheduleRetry: async () => {},
  deadLetter: async () => {},
  publishEvent: async () => {},
  publishEvents: async () => [],
});

/** A first attempt of `webhookId`'s delivery of event `n`, carrying its (empty) body. */
export const deliveryTask = (webhookId: string, n = 1): DeliveryTask => ({
  deliveryId: `dlv_${webhookId}_${n}`,
  webhookId,
  workspace: 'acme',
  eventId: `evt_${n}`,
  eventType: 'email.received',
  agent: null,
  payload: '{}',
  attempt: 1,
  dueAt: 0,
  manual: false,
  attempts: [],
  createdAt: 0,
});
