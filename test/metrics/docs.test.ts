import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defineMetrics } from '../../src/metrics/definitions.js';

const root = new URL('../../', import.meta.url);
const dashboard = JSON.parse(await readFile(new URL('docs/grafana-dashboard.json', root), 'utf8'));
const alerts = parse(await readFile(new URL('docs/alerts.yml', root), 'utf8'));
const readme = await readFile(new URL('README.md', root), 'utf8');

/** Series names the service exports: each metric, and a histogram's _bucket, _sum and _count. */
const metrics = await defineMetrics().registry.getMetricsAsJSON();
const exported = new Set(metrics.flatMap((m) => (String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])));
const ours = metrics.map((m) => m.name).filter((name) => name.startsWith('humiris_webhooks_'));

/** The metric names a PromQL expression reads (ours and the process/runtime ones). */
const namesIn = (expr: string): string[] => [...expr.matchAll(/\b(?:humiris_webhooks|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]);

const panelExprs = (dashboard.panels as any[]).flatMap((p) => (p.targets ?? []).map((t: any) => t.expr as string));
const alertRules = (alerts.groups as any[]).flatMap((g) => g.rules as any[]);

describe('docs/grafana-dashboard.json and docs/alerts.yml', () => {
  it('read only metric names the service exports', () => {
    const used = [...panelExprs, ...alertRules.map((r) => String(r.expr)), ...dashboard.templating.list.map((v: any) => v.definition ?? '')].flatMap(namesIn);
    expect(used.length).toBeGreaterThan(30);
    expect([...new Set(used.filter((name) => !exported.has(name)))]).toEqual([]);
  });

  it('show every metric of the service on the dashboard, and alert on dead letters, lag and the failure ratio', () => {
    const shown = new Set(panelExprs.flatMap(namesIn).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(ours.length).toBeGreaterThanOrEqual(12);
    expect(ours.filter((name) => !shown.has(name))).toEqual([]);
    const alerted = alertRules.map((r) => String(r.expr));
    expect(alerted.some((e) => e.includes('humiris_webhooks_dlq_records_total'))).toBe(true);
    expect(alerted.some((e) => e.includes('humiris_webhooks_consumer_lag'))).toBe(true);
    expect(alerted.some((e) => /outcome="failed".*\/.*deliveries_total/s.test(e))).toBe(true);
    for (const rule of alertRules) expect(Object.keys(rule).sort()).toEqual(expect.arrayContaining(['alert', 'annotations', 'expr', 'labels']));
  });

  it('is a dashboard Grafana can import: a Prometheus data source input, unique panel ids, a grid', () => {
    expect(dashboard.__inputs[0].pluginId).toBe('prometheus');
    const ids = (dashboard.panels as any[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) expect(panel.gridPos.w).toBeLessThanOrEqual(24);
  });

  it('every metric is listed in the README', () => {
    expect(ours.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
