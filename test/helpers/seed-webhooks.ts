import type { Db } from 'mongodb';
import { newSigningSecret, newWebhookId } from '../../src/domain/ids.js';
import { webhookCollectionName } from '../../src/store/webhook-store.js';

/**
 * Active webhooks stored the way the service stores created ones, a thousand per insert: set-up
 * speed, not the thing tested. Each gets `urlOf(n)` and a creation time 1 ms after the one before.
 */
export async function seedWebhooks(db: Db, workspace: string, count: number, urlOf: (n: number) => string = () => 'https://example.com/hooks'): Promise<void> {
  const collection = db.collection(webhookCollectionName(workspace));
  const start = Date.now() - count;
  for (let i = 0; i < count; i += 1_000) {
    const docs = Array.from({ length: Math.min(1_000, count - i) }, (_, j) => {
      const at = new Date(start + i + j);
      return {
        _id: newWebhookId(),
        workspace,
        url: urlOf(i + j),
        events: ['*'],
        agent: null,
        description: '',
        status: 'active',
        secrets: [{ secret: newSigningSecret(), expiresAt: null }],
        createdAt: at,
        updatedAt: at,
        slot: i + j,
      };
    });
    await collection.insertMany(docs as never[]);
  }
}
