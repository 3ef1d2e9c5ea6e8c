import { describeAgent, describeEvents, formatTime } from '../format.js';
import { useApi, useCursorPager, useResource } from '../hooks.js';
import { Link, paths } from '../router.js';
import { ErrorNotice, Loading } from './notice.js';
import { Pager } from './pager.js';
import { StatusBadge } from './status-badge.js';
import { TableHead } from './table-head.js';

const PAGE_SIZE = 25;

export function WebhookList() {
  const api = useApi();
  const pager = useCursorPager('webhooks');
  const list = useResource(`webhooks:${pager.cursor}`, () => api.listWebhooks(PAGE_SIZE, pager.cursor));

  return (
    <main>
      <div class="page-head">
        <h1>Webhooks</h1>
        <Link href={paths.newWebhook()} class="button">
          Add webhook
        </Link>
      </div>
      <ErrorNotice error={list.error} />
      {!list.data && list.loading && <Loading />}
      {list.data && list.data.data.length === 0 && pager.page === 1 && (
        <div class="card empty">
          <p>No webhooks yet. Add one to start receiving signed events at your endpoint.</p>
        </div>
      )}
      {list.data && list.data.data.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Webhooks table">
          <table class="stack">
            <TableHead columns={['URL', 'Events', 'Agent', 'Status', 'Created']} />
            <tbody>
              {list.data.data.map((webhook) => (
                <tr key={webhook.id}>
                  <td data-label="URL" class="url-cell">
                    <div>
                      <Link href={paths.webhook(webhook.id)}>{webhook.url}</Link>
                      {webhook.description && <div class="muted small">{webhook.description}</div>}
                    </div>
                  </td>
                  <td data-label="Events">{describeEvents(webhook.events)}</td>
                  <td data-label="Agent">{describeAgent(webhook)}</td>
                  <td data-label="Status">
                    <StatusBadge status={webhook.status} />
                  </td>
                  <td data-label="Created" class="nowrap">{formatTime(webhook.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Webhook pages" page={pager.page} nextCursor={list.data?.next_cursor} onNewer={pager.newer} onOlder={pager.older} />
    </main>
  );
}
