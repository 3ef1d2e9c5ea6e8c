import type { Api } from '../api.js';
import type { Delivery } from '../api-types.js';
import { bucketByHour, OUTCOMES, reachesPast } from '../chart-data.js';
import { useApi, useResource } from '../hooks.js';

// Enough for a busy endpoint's day at a glance without walking an unbounded history; few large pages, as each page reads whole hours of records.
const PAGE_SIZE = 500;
const MAX_PAGES = 4;

async function loadLastDay(api: Api, webhookId: string, now: number): Promise<{ deliveries: Delivery[]; truncated: boolean }> {
  const deliveries: Delivery[] = [];
  let cursor = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await api.listDeliveries(webhookId, { limit: PAGE_SIZE, cursor });
    deliveries.push(...result.data);
    if (!result.next_cursor || reachesPast(result.data, now)) return { deliveries, truncated: false };
    cursor = result.next_cursor;
  }
  return { deliveries, truncated: true };
}

const WIDTH = 480;
const HEIGHT = 120;
const PAD_BOTTOM = 18;

/** "3 succeeded, 0 retrying, 1 pending, 2 failed": the chart in words. */
const describeCounts = (counts: Readonly<Record<string, number>>): string => OUTCOMES.map((o) => `${counts[o]} ${o}`).join(', ');

export function DeliveryChart({ webhookId, refreshMs }: { webhookId: string; refreshMs: number }) {
  const api = useApi();
  const day = useResource(`chart:${webhookId}`, () => loadLastDay(api, webhookId, Date.now()), refreshMs);
  if (!day.data) return null;

  const buckets = bucketByHour(day.data.deliveries, Date.now());
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const totals = Object.fromEntries(OUTCOMES.map((o) => [o, buckets.reduce((sum, b) => sum + b.counts[o], 0)]));
  const slot = WIDTH / buckets.length;
  const plot = HEIGHT - PAD_BOTTOM;

  return (
    <figure class="chart">
      <figcaption>
        Deliveries per hour, last 24 h{day.data.truncated ? ' (most recent only)' : ''}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Deliveries in the last 24 hours: ${describeCounts(totals)}`}>
        <line x1="0" x2={WIDTH} y1={plot} y2={plot} class="chart-axis" />
        {buckets.map((bucket, i) => {
          let y = plot;
          const hour = new Date(bucket.start).getHours();
          const hh = String(hour).padStart(2, '0');
          return (
            <g key={bucket.start}>
              <title>{`${hh}:00 — ${bucket.total} deliveries (${describeCounts(bucket.counts)})`}</title>
              {OUTCOMES.map((outcome) => {
                const h = (bucket.counts[outcome] / max) * (plot - 4);
                if (!h) return null;
                y -= h;
                return <rect key={outcome} class={`bar-${outcome}`} x={i * slot + 2} y={y} width={slot - 4} height={h} />;
              })}
              {hour % 6 === 0 && (
                <text x={i * slot + slot / 2} y={HEIGHT - 4} class="chart-label" text-anchor="middle">
                  {`${hh}h`}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul class="legend">
        {OUTCOMES.map((outcome) => (
          <li key={outcome}>
            <span class={`swatch bar-${outcome}`} aria-hidden="true" /> {outcome} <strong>{totals[outcome]}</strong>
          </li>
        ))}
      </ul>
    </figure>
  );
}
