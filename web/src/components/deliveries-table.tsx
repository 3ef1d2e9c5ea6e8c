import { useState } from 'preact/hooks';
import type { DeliveryStatus } from '../api-types.js';
import { describeResponse, formatTime } from '../format.js';
import { useApi, useCursorPager, useResource } from '../hooks.js';
import { Link, paths } from '../router.js';
import { ErrorNotice, Loading } from './notice.js';
import { Pager } from './pager.js';
import { StatusBadge } from './status-badge.js';
import { TableHead } from './table-head.js';

const PAGE_SIZE = 20;
const FILTERS: Array<{ value: DeliveryStatus | ''; label: string }> = [
  { value: '', label: 'All' },
  { value: 'failed', label: 'Failed' },
  { value: 'retrying', label: 'Retrying' },
  { value: 'succeeded', label: 'Succeeded' },
  { value: 'pending', label: 'Pending' },
];

export function DeliveriesTable({ webhookId, refreshMs, refreshKey }: { webhookId: string; refreshMs: number; refreshKey: number }) {
  const api = useApi();
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  const [autoRefresh, setAutoRefresh] = useState(true);
  const pager = useCursorPager(`${webhookId}:${status}`);
  const list = useResource(
    `deliveries:${webhookId}:${status}:${pager.cursor}:${refreshKey}`,
    () => api.listDeliveries(webhookId, { status, limit: PAGE_SIZE, cursor: pager.cursor }),
    // Only the first page moves; older pages stay put while the customer reads them.
    autoRefresh && pager.page === 1 ? refreshMs : 0,
  );

  return (
    <section aria-labelledby="deliveries-heading">
      <div class="section-head">
        <h2 id="deliveries-heading">Deliveries</h2>
        <div class="toolbar">
          <label for="status-filter">Status</label>
          <select id="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value as DeliveryStatus | '')}>
            {FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
          <label class="check">
            <input type="checkbox" checked={autoRefresh} onChange={(e) => setAutoRefresh(e.currentTarget.checked)} />
            Auto-refresh
          </label>
          <button type="button" class="button-secondary" onClick={list.reload}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorNotice error={list.error} />
      {!list.data && list.loading && <Loading label="Loading deliveries…" />}
      {list.data && list.data.data.length === 0 && <p class="card empty">{status ? `No ${status} deliveries.` : 'No deliveries yet. Send a test event to see one here.'}</p>}
      {list.data && list.data.data.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Deliveries table">
          <table class="deliveries stack">
            <TableHead columns={['Time', 'Event type', 'Agent', 'Status', 'Attempts', 'Last response']} />
            <tbody>
              {list.data.data.map((d) => (
                <tr key={d.id} class={`row-${d.status}`} data-delivery-id={d.id}>
                  <td data-label="Time" class="nowrap">
                    <Link href={paths.delivery(webhookId, d.id)} aria-label={`Delivery ${d.id}, ${d.event_type}, ${d.status}`}>
                      {formatTime(d.created_at)}
                    </Link>
                  </td>
                  <td data-label="Event type">
                    <code>{d.event_type}</code>
                  </td>
                  <td data-label="Agent">{d.agent || '—'}</td>
                  <td data-label="Status">
                    <StatusBadge status={d.status} />
                  </td>
                  <td data-label="Attempts" class="num">{d.attempt_count ?? 0}</td>
                  <td data-label="Last response" class="excerpt">{describeResponse(d.last_response_status, d.last_error)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Delivery pages" page={pager.page} nextCursor={list.data?.next_cursor} onNewer={pager.newer} onOlder={pager.older} />
    </section>
  );
}
