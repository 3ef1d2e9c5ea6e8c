// Figures, the table and the JSON report.

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function distribution(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    min: sorted.length ? sorted[0]! : NaN,
  };
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

export interface Row {
  scenario: string;
  metric: string;
  value: string;
  target: string;
  verdict: '' | 'ok' | 'MISS';
}

export function printTable(rows: Row[]): string {
  const headers = ['scenario', 'metric', 'value', 'target', ''];
  const cells = rows.map((r) => [r.scenario, r.metric, r.value, r.target, r.verdict]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** A number as the table shows it; n/a when there is none. */
export const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The run's rows, in the order the scenarios report them, and its JSON results by scenario. */
export class Report {
  readonly rows: Row[] = [];
  readonly results: Record<string, unknown> = {};

  readonly row = (scenario: string, metric: string, value: string, target = '', pass?: boolean): void => {
    this.rows.push({ scenario, metric, value, target, verdict: pass === undefined ? '' : pass ? 'ok' : 'MISS' });
  };
}
