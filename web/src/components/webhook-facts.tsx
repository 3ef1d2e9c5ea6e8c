import type { ComponentChildren } from 'preact';
import type { Webhook } from '../api-types.js';
import { describeAgent, describeEvents, formatTime } from '../format.js';

/** One labelled value of a facts list. */
export function Fact({ label, class: className, children }: { label: string; class?: string; children: ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd class={className}>{children}</dd>
    </div>
  );
}

export function WebhookFacts({ webhook: w }: { webhook: Webhook }) {
  return (
    <dl class="facts">
      <Fact label="ID" class="mono">
        {w.id}
      </Fact>
      <Fact label="Events">
        {describeEvents(w.events)}
      </Fact>
      <Fact label="Agent">
        {describeAgent(w)}
      </Fact>
      <Fact label="Created">
        {formatTime(w.created_at)}
      </Fact>
      {w.description && (
        <Fact label="Description">
          {w.description}
        </Fact>
      )}
    </dl>
  );
}
