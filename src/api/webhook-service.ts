import { create } from '@bufbuild/protobuf';
import { durationMs, timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { validateWebhookUrl } from '../dispatch/url-guard.js';
import { invalidArgument, notFound } from '../domain/errors.js';
import {
  DeleteWebhookResponseSchema,
  GetDeliveryCountsResponseSchema,
  GetWebhookSecretResponseSchema,
  ListDeliveriesResponseSchema,
  ListWebhooksResponseSchema,
  WebhookService,
} from '../gen/humiris/webhooks/v1/webhook_service_pb.js';
import type { WebhookChanges } from '../store/webhook-store.js';
import { pageSizeOf } from '../store/paging.js';
import { currentSecret, deliveryMessage, webhookMessage } from './convert.js';
import { principalOf } from './interceptors.js';
import { recoveryMessage } from './recovery-message.js';
import type { ApiDeps } from './routes.js';
import {
  checkId,
  validateAgent,
  validateDeliveryStatus,
  validateDescription,
  validateEvents,
  validateEventTypeFilter,
  validateSignatureScheme,
  validateWebhookStatus,
} from './validation.js';

const DEFAULT_KEEP_PREVIOUS_MS = 24 * 60 * 60 * 1000;
const MAX_KEEP_PREVIOUS_MS = 30 * DEFAULT_KEEP_PREVIOUS_MS;
/** GetDeliveryCounts: a day unless asked, a week at most (each hour is one read). */
const DEFAULT_COUNT_HOURS = 24;
const MAX_COUNT_HOURS = 168;

export function webhookService({ webhooks, deliveries, actions, recoveries, config }: ApiDeps): ServiceImpl<typeof WebhookService> {
  /**
   * What is stored is the URL as the sender reads it, so that what is shown is where requests go
   * (`http://a\@b/` is `http://a/@b/`); throws invalid_argument on `url`.
   */
  const validateUrl = async (raw: string) => (await validateWebhookUrl(raw, { allowPrivateUrls: config.allowPrivateUrls })).href;

  /** The webhook of the caller's workspace, or not_found exactly as for a missing id. */
  const ownWebhook = (workspace: string, id: string) => webhooks.get(workspace, checkId('webhook', id));

  /** Read by the caller's workspace, so another workspace's ids answer not_found; a deleted webhook's deliveries stay readable. */
  const ownDelivery = async (workspace: string, webhookId: string, deliveryId: string) => {
    const delivery = await deliveries.get(workspace, checkId('webhook', webhookId), checkId('delivery', deliveryId));
    if (!delivery) throw notFound(`delivery ${deliveryId}`);
    return delivery;
  };

  return {
    async createWebhook(req, ctx) {
      const { workspace } = principalOf(ctx);
      const input = {
        url: await validateUrl(req.url),
        events: validateEvents(req.events),
        agent: validateAgent(req.agent),
        description: validateDescription(req.description),
        signatureScheme: validateSignatureScheme(req.signatureScheme),
      };
      return webhookMessage(await webhooks.create(workspace, input, config.maxWebhooksPerWorkspace), true);
    },

    async getWebhook(req, ctx) {
      return webhookMessage(await ownWebhook(principalOf(ctx).workspace, req.id));
    },

    async listWebhooks(req, ctx) {
      const page = await webhooks.list(principalOf(ctx).workspace, req.pageSize, req.pageToken);
      return create(ListWebhooksResponseSchema, {
        webhooks: page.items.map((w) => webhookMessage(w)),
        nextPageToken: page.nextCursor,
      });
    },

    async updateWebhook(req, ctx) {
      const { workspace } = principalOf(ctx);
      checkId('webhook', req.id);
      const changes: WebhookChanges = {};
      if (req.url !== undefined) changes.url = await validateUrl(req.url);
      if (req.events.length > 0) changes.events = validateEvents(req.events);
      if (req.agent !== undefined) changes.agent = validateAgent(req.agent);
      if (req.description !== undefined) changes.description = validateDescription(req.description);
      if (req.status !== undefined) changes.status = validateWebhookStatus(req.status);
      if (req.signatureScheme !== undefined) changes.signatureScheme = validateSignatureScheme(req.signatureScheme);
      return webhookMessage(await webhooks.update(workspace, req.id, changes));
    },

    async deleteWebhook(req, ctx) {
      await webhooks.delete(principalOf(ctx).workspace, checkId('webhook', req.id));
      return create(DeleteWebhookResponseSchema);
    },

    async rotateWebhookSecret(req, ctx) {
      const { workspace } = principalOf(ctx);
      let keepMs = DEFAULT_KEEP_PREVIOUS_MS;
      if (req.expirePreviousIn !== undefined) {
        keepMs = durationMs(req.expirePreviousIn);
        if (!(keepMs >= 0 && keepMs <= MAX_KEEP_PREVIOUS_MS)) {
          throw invalidArgument('expire_previous_in must be from 0s to 2592000s (30 days)', 'expire_previous_in');
        }
      }
      return webhookMessage(await webhooks.rotateSecret(workspace, checkId('webhook', req.id), keepMs), true);
    },

    async getWebhookSecret(req, ctx) {
      const webhook = await ownWebhook(principalOf(ctx).workspace, req.id);
      return create(GetWebhookSecretResponseSchema, { signingSecret: currentSecret(webhook) });
    },

    async sendTestEvent(req, ctx) {
      const webhook = await ownWebhook(principalOf(ctx).workspace, req.id);
      return deliveryMessage(await actions.sendTestEvent(webhook), true);
    },

    async listDeliveries(req, ctx) {
      const { workspace } = principalOf(ctx);
      const filter = { status: validateDeliveryStatus(req.status), eventType: validateEventTypeFilter(req.eventType) };
      const size = pageSizeOf(req.pageSize);
      const page = await deliveries.list(workspace, checkId('webhook', req.webhookId), filter, size, req.pageToken);
      // A deleted webhook's deliveries stay listed; an id with neither a webhook nor deliveries is not_found.
      if (page.items.length === 0 && req.pageToken === '' && !(await webhooks.getById(workspace, req.webhookId))) {
        if ((await deliveries.list(workspace, req.webhookId, {}, 1, '')).items.length === 0) throw notFound(`webhook ${req.webhookId}`);
      }
      return create(ListDeliveriesResponseSchema, {
        deliveries: page.items.map((d) => deliveryMessage(d)),
        nextPageToken: page.nextCursor,
      });
    },

    async getDeliveryCounts(req, ctx) {
      const { workspace } = principalOf(ctx);
      const hours = req.hours ?? DEFAULT_COUNT_HOURS;
      if (!(Number.isInteger(hours) && hours >= 1 && hours <= MAX_COUNT_HOURS)) {
        throw invalidArgument(`hours must be from 1 to ${MAX_COUNT_HOURS} (7 days); absent means ${DEFAULT_COUNT_HOURS}`, 'hours');
      }
      // A deleted webhook, or another workspace's, is not_found like a missing one.
      await ownWebhook(workspace, req.webhookId);
      const counts = await deliveries.countsByHour(workspace, req.webhookId, hours);
      return create(GetDeliveryCountsResponseSchema, {
        hours: counts.map(({ start, ...byStatus }) => ({ startTime: timestampFromDate(start), ...byStatus })),
      });
    },

    async getDelivery(req, ctx) {
      return deliveryMessage(await ownDelivery(principalOf(ctx).workspace, req.webhookId, req.deliveryId), true);
    },

    async retryDelivery(req, ctx) {
      const { workspace } = principalOf(ctx);
      // A deleted webhook's deliveries can be read, not sent again.
      await ownWebhook(workspace, req.webhookId);
      const delivery = await ownDelivery(workspace, req.webhookId, req.deliveryId);
      return deliveryMessage(await actions.retry(delivery), true);
    },

    async recoverDeliveries(req, ctx) {
      const { workspace } = principalOf(ctx);
      // A deleted webhook's deliveries can be read, not sent again.
      await ownWebhook(workspace, req.webhookId);
      if (!req.since) throw invalidArgument('since is required: deliveries created at or after it are recovered', 'since');
      const since = timestampDate(req.since);
      const until = req.until ? timestampDate(req.until) : null;
      if (until && until <= since) throw invalidArgument('until must be after since', 'until');
      return recoveryMessage(await recoveries.start(workspace, req.webhookId, since, until));
    },

    async getRecovery(req, ctx) {
      const job = await recoveries.get(principalOf(ctx).workspace, checkId('webhook', req.webhookId), checkId('recovery', req.id));
      if (!job) throw notFound(`recovery ${req.id}`);
      return recoveryMessage(job);
    },
  };
}
