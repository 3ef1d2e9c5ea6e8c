import { useState } from 'preact/hooks';
// The one list of event types, shared with the service so the two cannot drift apart.
import { ALL_EVENTS, EVENT_TYPES } from '../../../src/domain/event-types.js';
import { ApiError } from '../api.js';
import type { Webhook, WebhookInput } from '../api-types.js';

const AGENT_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,62}';

export interface WebhookFormProps {
  initial?: Webhook;
  submitLabel: string;
  onSubmit(input: WebhookInput): Promise<void>;
  onCancel(): void;
}

export function WebhookForm({ initial, submitLabel, onSubmit, onCancel }: WebhookFormProps) {
  const [url, setUrl] = useState(initial?.url ?? '');
  const [allEvents, setAllEvents] = useState(initial ? initial.events.includes(ALL_EVENTS) : false);
  const [events, setEvents] = useState<string[]>(initial ? initial.events.filter((e) => e !== ALL_EVENTS) : []);
  const [agentMode, setAgentMode] = useState<'all' | 'one'>(initial?.agent ? 'one' : 'all');
  const [agent, setAgent] = useState(initial?.agent ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const toggle = (type: string, on: boolean) => setEvents((list) => (on ? [...list, type] : list.filter((e) => e !== type)));
  // The API names fields like `events[1]` or `url`; the top-level name picks the input to flag.
  const fieldOf = (name: string) => (error?.field?.split(/[[.]/)[0] === name ? error : null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const chosen = allEvents ? [ALL_EVENTS] : EVENT_TYPES.filter((t) => events.includes(t));
    if (chosen.length === 0) return setError({ message: 'Pick at least one event type, or "All event types".', field: 'events' });
    if (agentMode === 'one' && !new RegExp(`^${AGENT_PATTERN}$`).test(agent.trim())) {
      return setError({ message: 'An agent is lower-case letters, digits, "-" or "_" (up to 63).', field: 'agent' });
    }
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ url: url.trim(), events: chosen, agent: agentMode === 'one' ? agent.trim() : null, description: description.trim() });
    } catch (e) {
      setError(e instanceof ApiError ? { message: e.message, field: e.field } : { message: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const invalid = (name: string) => (fieldOf(name) ? { 'aria-invalid': 'true' as const, 'aria-describedby': 'form-error' } : {});

  return (
    <form class="card form" onSubmit={submit} noValidate>
      {error && (
        <p id="form-error" class="notice notice-error" role="alert">
          {error.message}
        </p>
      )}
      <div class="field">
        <label for="webhook-url">Endpoint URL</label>
        <input id="webhook-url" type="url" required placeholder="https://example.com/humiris/webhooks" value={url} onInput={(e) => setUrl(e.currentTarget.value)} {...invalid('url')} />
      </div>

      <fieldset class="field" {...invalid('events')}>
        <legend>Events</legend>
        <label class="check">
          <input type="checkbox" checked={allEvents} onChange={(e) => setAllEvents(e.currentTarget.checked)} />
          <span>
            All event types (<code>*</code>)
          </span>
        </label>
        <div class="event-grid">
          {EVENT_TYPES.map((type) => (
            <label class="check" key={type}>
              <input type="checkbox" disabled={allEvents} checked={allEvents || events.includes(type)} onChange={(e) => toggle(type, e.currentTarget.checked)} />
              <code>{type}</code>
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset class="field">
        <legend>Agents</legend>
        <label class="check">
          <input type="radio" name="agent-mode" checked={agentMode === 'all'} onChange={() => setAgentMode('all')} />
          All agents of the workspace
        </label>
        <label class="check">
          <input type="radio" name="agent-mode" checked={agentMode === 'one'} onChange={() => setAgentMode('one')} />
          Only one agent
        </label>
        {agentMode === 'one' && (
          <div class="indent">
            <label for="webhook-agent">Agent</label>
            <input id="webhook-agent" class="mono" pattern={AGENT_PATTERN} placeholder="support-bot" value={agent} onInput={(e) => setAgent(e.currentTarget.value)} {...invalid('agent')} />
          </div>
        )}
      </fieldset>

      <div class="field">
        <label for="webhook-description">Description (optional)</label>
        <textarea id="webhook-description" rows={2} maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} {...invalid('description')} />
      </div>

      <div class="actions">
        <button type="button" class="button-secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
