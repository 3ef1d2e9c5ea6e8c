import type { Webhook } from '../api-types.js';
import { describeAgent, describeEvents, formatTime } from '../format.js';

export function WebhookFacts({ webhook: w }: { webhook: Webhook }) {
  return (
    <dl class="facts">
      <div>
        <dt>ID</dt>
        <dd class="mono">{w.id}</dd>
      </div>
      <div>
        <dt>Events</dt>
        <dd>{describeEvents(w.events)}</dd>
      </div>
      <div>
        <dt>Agent</dt>
        <dd>{describeAgent(w)}</dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>{formatTime(w.created_at)}</dd>
      </div>
      {w.description && (
        <div>
          <dt>Description</dt>
          <dd>{w.description}</dd>
        </div>
      )}
    </dl>
  );
}
