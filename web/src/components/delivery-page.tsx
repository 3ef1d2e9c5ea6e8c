import { useEffect, useState } from 'preact/hooks';
import type { Attempt, Delivery } from '../api-types.js';
import { describeResponse, formatRelative, formatTime } from '../format.js';
import { useApi, useResource } from '../hooks.js';
import { Link, paths } from '../router.js';
import { ErrorNotice, Loading } from './notice.js';
import { StatusBadge } from './status-badge.js';
import { TableHead } from './table-head.js';
import { Fact } from './webhook-facts.js';

const POLL_MS = 2_000;
const unsettled = (d?: Delivery) => d?.status === 'pending' || d?.status === 'retrying';

export function DeliveryPage({ id, deliveryId }: { id: string; deliveryId: string }) {
  const api = useApi();
  // Attempts already on record when Replay was pressed; the first one after it is the replay's.
  const [replayBaseline, setReplayBaseline] = useState<number | null>(null);
  const [replayError, setReplayError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  // Whether to poll is known only from the answer, which the poll itself brings: the last render's verdict.
  const [live, setLive] = useState(true);
  const delivery = useResource(`delivery:${id}:${deliveryId}`, () => api.getDelivery(id, deliveryId), live ? POLL_MS : 0);

  const d = delivery.data;
  const attempts = d?.attempts ?? [];
  const replayAttempt = replayBaseline === null ? undefined : attempts.slice(replayBaseline).find((a) => a.manual) ?? attempts[replayBaseline];
  const awaitingReplay = replayBaseline !== null && !replayAttempt;
  // Keep polling while the delivery can still change, or while a replay has not reported back.
  const shouldPoll = !d || unsettled(d) || awaitingReplay;
  useEffect(() => setLive(shouldPoll), [shouldPoll]);

  const replay = async () => {
    setBusy(true);
    setReplayError(null);
    setReplayBaseline(attempts.length);
    try {
      await api.retryDelivery(id, deliveryId);
      // No need to turn polling on here: the baseline set above keeps it on until the replay's attempt shows.
      delivery.reload();
    } catch (e) {
      setReplayBaseline(null);
      setReplayError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <p class="crumbs">
        <Link href={paths.webhooks()}>Webhooks</Link> / <Link href={paths.webhook(id)}>Webhook</Link> /
      </p>
      <div class="page-head">
        <h1>
          Delivery <span class="mono">{deliveryId}</span>
        </h1>
        {d && <StatusBadge status={d.status} />}
      </div>
      <ErrorNotice error={delivery.error} />
      {!d && delivery.loading && <Loading />}
      {d && (
        <>
          <dl class="facts">
            <Fact label="Event">
              <code>{d.event_type}</code> <span class="mono muted small">{d.event_id}</span>
            </Fact>
            <Fact label="Agent">
              {d.agent || '—'}
            </Fact>
            <Fact label="Created">
              {formatTime(d.created_at)}
            </Fact>
            <Fact label="Attempts">
              {d.attempt_count ?? attempts.length}
            </Fact>
            <Fact label="Next retry">
              {unsettled(d) && d.next_attempt_at ? `${formatTime(d.next_attempt_at)} (${formatRelative(d.next_attempt_at)})` : 'None scheduled'}
            </Fact>
            <Fact label="Last response">
              {describeResponse(d.last_response_status, d.last_error)}
            </Fact>
          </dl>

          <div class="actions">
            <button type="button" onClick={replay} disabled={busy || awaitingReplay}>
              {busy || awaitingReplay ? 'Replaying…' : 'Replay'}
            </button>
          </div>
          <ErrorNotice error={replayError} />
          <div role="status" aria-live="polite" class="replay-result">
            {replayBaseline !== null && <ReplayResult attempt={replayAttempt} />}
          </div>

          <section aria-labelledby="attempts-heading">
            <h2 id="attempts-heading">Attempts</h2>
            {attempts.length === 0 ? (
              <p class="muted">No attempt yet.</p>
            ) : (
              <div class="table-wrap" tabIndex={0} role="region" aria-label="Attempts table">
                <table class="attempts stack">
                  <TableHead columns={['#', 'Time', 'Duration', 'Status', 'Response', 'Error']} />
                  <tbody>
                    {attempts.map((a) => (
                      <tr key={a.number} class={attemptOk(a) ? '' : 'row-failed'}>
                        <td data-label="#" class="num">
                          {a.number}
                          {a.manual && <span class="tag">manual</span>}
                        </td>
                        <td data-label="Time" class="nowrap">{formatTime(a.started_at)}</td>
                        <td data-label="Duration" class="num nowrap">{a.duration_ms ?? 0} ms</td>
                        <td data-label="Status" class="num">{a.response_status || '—'}</td>
                        <td data-label="Response">{a.response_body_excerpt ? <pre class="excerpt-block">{a.response_body_excerpt}</pre> : <span class="muted">—</span>}</td>
                        <td data-label="Error" class="excerpt">{a.error || '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section aria-labelledby="payload-heading">
            <h2 id="payload-heading">Payload</h2>
            <pre class="payload" tabIndex={0} aria-label="Delivery payload">
              {d.payload === undefined ? 'Not available.' : JSON.stringify(d.payload, null, 2)}
            </pre>
          </section>
        </>
      )}
    </main>
  );
}

const attemptOk = (a: Attempt) => !!a.response_status && a.response_status >= 200 && a.response_status < 300;

function ReplayResult({ attempt }: { attempt?: Attempt }) {
  if (!attempt) return <p class="notice">Replay queued, waiting for the attempt…</p>;
  return attemptOk(attempt) ? (
    <p class="notice notice-ok">
      Replay succeeded: HTTP {attempt.response_status} in {attempt.duration_ms ?? 0} ms.
    </p>
  ) : (
    <p class="notice notice-error">Replay failed: {describeResponse(attempt.response_status, attempt.error)}.</p>
  );
}
