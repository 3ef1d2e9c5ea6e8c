import { useEffect, useState } from 'preact/hooks';
import type { Recovery } from '../api-types.js';
import { useApi } from '../hooks.js';
import { formatTime } from '../format.js';
import { ErrorNotice } from './notice.js';

const POLL_MS = 1_000;
const DEFAULT_LOOKBACK_MS = 24 * 60 * 60 * 1000;

const pad = (n: number): string => String(n).padStart(2, '0');

/** The value a `datetime-local` input takes: local time to the minute. */
function localInputValue(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * "Recover failed deliveries since …": one manual attempt for each of the webhook's failed
 * deliveries created since the chosen time, as a job whose counts are shown until it is done.
 * Asking again for the same time shows the same job.
 */
export function RecoveryPanel({ webhookId, onProgress }: { webhookId: string; onProgress: () => void }) {
  const api = useApi();
  const [since, setSince] = useState(() => localInputValue(new Date(Date.now() - DEFAULT_LOOKBACK_MS)));
  const [job, setJob] = useState<Recovery | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  // Follows a running job until it is done, then refreshes the deliveries once more.
  useEffect(() => {
    if (!job || job.status === 'done') return;
    const timer = setTimeout(() => {
      api.getRecovery(webhookId, job.id).then(
        (next) => {
          setJob(next);
          onProgress();
        },
        (e: Error) => setError(e),
      );
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [job, webhookId]);

  const start = async (event: Event) => {
    event.preventDefault();
    const from = new Date(since);
    if (Number.isNaN(from.getTime())) return setError(new Error('Choose the date and time to recover from.'));
    setBusy(true);
    setError(null);
    try {
      setJob(await api.recoverDeliveries(webhookId, from));
      onProgress();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card recovery" aria-labelledby="recovery-heading">
      <h2 id="recovery-heading">Bulk recovery</h2>
      <form class="toolbar" onSubmit={start}>
        <label for="recovery-since">Recover failed deliveries since</label>
        <input id="recovery-since" type="datetime-local" value={since} required onInput={(e) => setSince((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>
          Recover failed deliveries
        </button>
      </form>
      <p class="muted small">Each failed delivery created since then is sent once more, as a manual attempt. Recovering the same time again does not send them twice.</p>
      <ErrorNotice error={error} />
      <div role="status" aria-live="polite">
        {job && (
          <p class={job.status === 'done' ? 'notice notice-ok' : 'notice'}>
            Recovery <code>{job.id}</code> {job.status === 'done' ? 'done' : 'running'}: {job.found} found, {job.queued} queued, {job.skipped} skipped
            <span class="muted small"> (created {formatTime(job.since)} to {formatTime(job.until)})</span>
          </p>
        )}
      </div>
    </section>
  );
}
