import type { Webhook } from './api-types.js';

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2026-11-26 06:20:01` in the browser's time zone: sortable and unambiguous in tables. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] : abs < 86_400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86_400), 'd'];
  return seconds >= 0 ? `in ${value} ${unit}` : `${value} ${unit} ago`;
}

export function describeEvents(events: string[]): string {
  return events.includes('*') ? 'All events' : events.join(', ');
}

export function describeAgent(webhook: Pick<Webhook, 'agent'>): string {
  return webhook.agent ? webhook.agent : 'All agents';
}

/** "200", "500 · upstream down", or the transport error when no response arrived. */
export function describeResponse(status: number | undefined, error: string | undefined): string {
  // An error that only restates the status ("status 500") adds nothing beside it.
  if (status) return error && !error.includes(String(status)) ? `${status} · ${error}` : String(status);
  return error || '—';
}
