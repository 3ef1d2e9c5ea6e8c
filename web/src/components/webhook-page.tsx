import { useState } from 'preact/hooks';
import type { Delivery } from '../api-types.js';
import { useApi, useResource } from '../hooks.js';
import { formatTime } from '../format.js';
import { Link, navigate, paths } from '../router.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { DeliveriesTable } from './deliveries-table.js';
import { DeliveryChart } from './delivery-chart.js';
import { ErrorNotice, Loading } from './notice.js';
import { RecoveryPanel } from './recovery-panel.js';
import { SecretNotice } from './secret-notice.js';
import { StatusBadge } from './status-badge.js';
import { WebhookFacts } from './webhook-facts.js';

const REFRESH_MS = 5_000;
// The chart walks up to a day of pages, so it refreshes less often than the table.
const CHART_REFRESH_MS = 10_000;

type Pending = 'delete' | 'rotate' | null;

export function WebhookPage({ id }: { id: string }) {
  const api = useApi();
  const webhook = useResource(`webhook:${id}`, () => api.getWebhook(id));
  const [secret, setSecret] = useState('');
  const [confirm, setConfirm] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [testDelivery, setTestDelivery] = useState<Delivery | null>(null);
  // Bumped after an action that adds a delivery, so the table shows it at once.
  const [refreshKey, setRefreshKey] = useState(0);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setActionError(null);
    try {
      await action();
    } catch (e) {
      setActionError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  if (!webhook.data) {
    return (
      <main>
        <h1>Webhook</h1>
        <ErrorNotice error={webhook.error} />
        {webhook.loading && <Loading />}
      </main>
    );
  }
  const w = webhook.data;
  const toggleStatus = () =>
    run(async () => {
      await api.updateWebhook(id, { status: w.status === 'active' ? 'disabled' : 'active' });
      webhook.reload();
    });
  const sendTest = () =>
    run(async () => {
      setTestDelivery(await api.sendTestEvent(id));
      setRefreshKey((n) => n + 1);
    });
  const rotate = () =>
    run(async () => {
      const rotated = await api.rotateSecret(id);
      setSecret(rotated.signing_secret ?? '');
      setConfirm(null);
    });
  const remove = () =>
    run(async () => {
      await api.deleteWebhook(id);
      navigate(paths.webhooks());
    });

  return (
    <main>
      <p class="crumbs">
        <Link href={paths.webhooks()}>Webhooks</Link> /
      </p>
      <div class="page-head">
        <h1 class="break">{w.url}</h1>
        <StatusBadge status={w.status} />
      </div>
      {w.status === 'disabled' && w.disabled_reason && (
        <p class="notice notice-error" data-testid="disabled-reason">
          Disabled by the service{w.disabled_at ? ` on ${formatTime(w.disabled_at)}` : ''}: {w.disabled_reason}. Enable it once the endpoint works again.
        </p>
      )}
      <WebhookFacts webhook={w} />

      <div class="actions wrap" role="group" aria-label="Webhook actions">
        <button type="button" onClick={sendTest} disabled={busy || w.status !== 'active'} title={w.status !== 'active' ? 'Enable the webhook to send a test event' : undefined}>
          Send test event
        </button>
        <Link href={paths.editWebhook(id)} class="button button-secondary">
          Edit
        </Link>
        <button type="button" class="button-secondary" onClick={toggleStatus} disabled={busy}>
          {w.status === 'active' ? 'Disable' : 'Enable'}
        </button>
        <button type="button" class="button-secondary" onClick={() => setConfirm('rotate')} disabled={busy}>
          Rotate secret
        </button>
        <button type="button" class="button-danger" onClick={() => setConfirm('delete')} disabled={busy}>
          Delete
        </button>
      </div>
      <ErrorNotice error={actionError} />
      <div role="status" aria-live="polite">
        {testDelivery && (
          <p class="notice">
            Test event queued as{' '}
            <Link href={paths.delivery(id, testDelivery.id)}>
              <code>{testDelivery.id}</code>
            </Link>
            .
          </p>
        )}
      </div>
      {secret && (
        <>
          <SecretNotice heading="New signing secret" secret={secret} />
          <p class="muted">The previous secret keeps signing beside the new one for 24 hours, so you can roll it out without dropping events.</p>
        </>
      )}

      <RecoveryPanel webhookId={id} onProgress={() => setRefreshKey((n) => n + 1)} />
      <DeliveryChart webhookId={id} refreshMs={CHART_REFRESH_MS} />
      <DeliveriesTable webhookId={id} refreshMs={REFRESH_MS} refreshKey={refreshKey} />

      <ConfirmDialog
        open={confirm === 'rotate'}
        title="Rotate signing secret?"
        confirmLabel="Rotate secret"
        busy={busy}
        onConfirm={rotate}
        onCancel={() => setConfirm(null)}
      >
        <p>A new secret is created and shown once. The current one keeps signing for 24 hours, then stops.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'delete'}
        title="Delete this webhook?"
        confirmLabel="Delete webhook"
        danger
        busy={busy}
        onConfirm={remove}
        onCancel={() => setConfirm(null)}
      >
        <p>
          Events will no longer be sent to <strong class="break">{w.url}</strong>. This cannot be undone.
        </p>
      </ConfirmDialog>
    </main>
  );
}
