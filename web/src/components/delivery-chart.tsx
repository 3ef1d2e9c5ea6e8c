import { bucketsOf, OUTCOMES } from '../chart-data.js';
import { useApi, useResource } from '../hooks.js';

const WIDTH = 480;
const HEIGHT = 120;
const PAD_BOTTOM = 18;

/** "3 succeeded, 0 retrying, 1 pending, 2 failed": the chart in words. */
const describeCounts = (counts: Readonly<Record<string, number>>): string => OUTCOMES.map((o) => `${counts[o]} ${o}`).join(', ');

export function DeliveryChart({ webhookId, refreshMs }: { webhookId: string; refreshMs: number }) {
  const api = useApi();
  // One read per hour of the day, from the hourly counts: the same cost however many deliveries there are.
  const day = useResource(`chart:${webhookId}`, () => api.deliveryCounts(webhookId, 24), refreshMs);
  if (!day.data) return null;

  const buckets = bucketsOf(day.data.hours);
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const totals = Object.fromEntries(OUTCOMES.map((o) => [o, buckets.reduce((sum, b) => sum + b.counts[o], 0)]));
  const slot = WIDTH / buckets.length;
  const plot = HEIGHT - PAD_BOTTOM;

  return (
    <figure class="chart">
      <figcaption>Deliveries per hour, last 24 h</figcaption>
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
