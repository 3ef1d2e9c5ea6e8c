import { create, toJson } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { invalidArgument } from '../domain/errors.js';
import { validateEvent } from '../domain/event.js';
import { newEventId } from '../domain/ids.js';
import { EventService, PublishEventResponseSchema } from '../gen/humiris/webhooks/v1/event_service_pb.js';
import { EventSchema } from '../gen/humiris/webhooks/v1/resources_pb.js';
import { principalOf } from './interceptors.js';
import type { ServiceDeps } from './routes.js';

export function eventService({ actions }: ServiceDeps): ServiceImpl<typeof EventService> {
  return {
    async publishEvent(req, ctx) {
      if (!req.event) throw invalidArgument('event is required', 'event');
      // The same envelope rules as events read from Kafka; the workspace is always the key's own.
      const envelope = { ...(toJson(EventSchema, req.event, { useProtoFieldName: true }) as object), workspace: principalOf(ctx).workspace };
      const event = validateEvent(envelope, { createdAt: new Date(), id: newEventId() });
      await actions.publishEvent(event);
      return create(PublishEventResponseSchema, { id: event.id });
    },
  };
}
