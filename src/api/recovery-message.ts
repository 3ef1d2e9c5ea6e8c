import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { RecoverySchema, type Recovery } from '../gen/humiris/webhooks/v1/webhook_service_pb.js';
import type { RecoveryRecord } from '../pipeline/ports.js';

export function recoveryMessage(job: RecoveryRecord): Recovery {
  return create(RecoverySchema, {
    id: job.id,
    webhookId: job.webhookId,
    since: timestampFromDate(job.since),
    until: timestampFromDate(job.until),
    status: job.status,
    found: job.found,
    queued: job.queued,
    skipped: job.skipped,
    createdAt: timestampFromDate(job.createdAt),
    updatedAt: timestampFromDate(job.updatedAt),
    finishedAt: job.finishedAt ? timestampFromDate(job.finishedAt) : undefined,
  });
}
