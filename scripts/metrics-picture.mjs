#!/usr/bin/env node
// Draws docs/screenshots/metrics-dashboard.png: the service runs on the local stack under a
// bench-like load (a ramp, a burst, receivers that are fast, slow, flaky, down or hanging),
// GET /metrics is sampled every 2 s, and the panels of docs/grafana-dashboard.json are drawn from
// the samples (rates, histogram quantiles, gauges) in a page that Chromium screenshots.
//
//   npm run build && node scripts/metrics-picture.mjs [--seconds 120] [--samples out.json] [--from samples.json]
//
// KAFKA_BROKERS and MONGODB_URI default to the local stack (`humiris-webhooks stack up`).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    samples: { type: 'string' },
    from: { type: 'string' },
    out: { type: 'string', default: path.join(root, 'docs/screenshots/metrics-dashboard.png') },
  },
});
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SAMPLE_MS = 2_000;
const say = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------- the Prometheus text format ----------
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

// ---------- a run on the local stack ----------
function receiver(answer) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, server })));
}

async function run(seconds) {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const mongodbUri = process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/';
  const name = `picture${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers,
    MONGODB_URI: mongodbUri,
    MONGODB_DATABASE: name,
    WEBHOOKS_TOPIC_PREFIX: name,
    WEBHOOKS_EVENT_PARTITIONS: '3',
    WEBHOOKS_RETRY_SCHEDULE: '5s,15s',
    WEBHOOKS_REQUEST_TIMEOUT: '2s',
    WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOKS_RATE_LIMIT_PER_MINUTE: '0',
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
  };
  const bin = path.join(root, 'bin/humiris-webhooks.js');
  const key = execFileSync(process.execPath, [bin, 'api-key', 'create', '--workspace', 'picture'], { env, encoding: 'utf8' }).trim().split('\n').pop();

  say(`starting the service (topics and database ${name})`);
  const child = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((resolve, reject) => {
    let buffered = '';
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before it started`)));
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        if (!line.includes('service started')) continue;
        try {
          const { apiPort, metricsPort } = JSON.parse(line);
          resolve({ apiPort, metricsPort });
        } catch {}
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
  const api = `http://127.0.0.1:${ports.apiPort}`;
  const metricsUrl = `http://127.0.0.1:${ports.metricsPort}/metrics`;
  const rest = (method, route, body) =>
    fetch(`${api}${route}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });

  const jitter = (min, max) => min + Math.random() * (max - min);
  const receivers = {
    fast: await receiver((res) => setTimeout(() => res.writeHead(200).end('ok'), jitter(2, 20))),
    slow: await receiver((res) => setTimeout(() => res.writeHead(200).end('ok'), jitter(150, 600))),
    flaky: await receiver((res) => setTimeout(() => res.writeHead(Math.random() < 0.35 ? 500 : 200).end(), jitter(5, 60))),
    down: await receiver((res) => res.writeHead(503).end('maintenance')),
    hanging: await receiver(() => {}),
  };
  const subscriptions = [
    ['fast', ['*']],
    ['slow', ['email.received', 'sms.sent']],
    ['flaky', ['card.authorization', 'card.capture']],
    ['down', ['call.ended']],
    ['hanging', ['agent.created']],
  ];
  for (const [receiverName, events] of subscriptions) {
    const res = await rest('POST', '/v1/webhooks', { url: receivers[receiverName].url, events, description: receiverName });
    if (res.status !== 201) throw new Error(`creating a webhook answered ${res.status}: ${await res.text()}`);
  }
  await sleep(1_500);

  const kafka = new Kafka({ brokers: brokers.split(','), clientId: name, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();

  const types = ['email.received', 'email.received', 'sms.sent', 'card.authorization', 'card.capture', 'call.ended', 'wallet.transfer.in', 'agent.created'];
  // Events per second over the run: a ramp, a plateau, a burst, a quiet tail.
  const rateAt = (f) => (f < 0.25 ? 10 + (f / 0.25) * 50 : f < 0.55 ? 60 : f < 0.65 ? 180 : f < 0.85 ? 40 : 8);
  const samples = [];
  const started = Date.now();
  const endAt = started + seconds * 1_000;
  const sampler = (async () => {
    for (let next = Date.now(); Date.now() < endAt + 20_000; next += SAMPLE_MS) {
      try {
        const text = await (await fetch(metricsUrl)).text();
        samples.push({ t: Date.now() - started, samples: parseMetrics(text) });
      } catch (error) {
        say(`scrape failed: ${error.message}`);
      }
      await sleep(Math.max(0, next + SAMPLE_MS - Date.now()));
    }
  })();
  let published = 0;
  let inFlight = 0;
  while (Date.now() < endAt) {
    const f = (Date.now() - started) / (seconds * 1_000);
    const perTick = rateAt(f) / 10;
    const count = Math.floor(perTick) + (Math.random() < perTick % 1 ? 1 : 0);
    for (let i = 0; i < count && inFlight < 200; i++) {
      inFlight++;
      const type = types[Math.floor(Math.random() * types.length)];
      rest('POST', '/v1/events', { type, data: { n: published++ } })
        .then((res) => res.arrayBuffer())
        .catch(() => {})
        .finally(() => inFlight--);
    }
    // Now and then a producer writes a record that is not an event.
    if (Math.random() < 0.02) await producer.send({ topic: `${name}.events.sms.sent`, messages: [{ value: '{"not": "an event"' }] });
    await sleep(100);
  }
  say(`published ${published} events in ${seconds} s; sampling the tail`);
  await sampler;
  await producer.disconnect();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  for (const { server } of Object.values(receivers)) server.closeAllConnections(), server.close();
  // The run's topics and database go: the picture is all it leaves.
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(name));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  const { MongoClient } = await import('mongodb');
  const client = await MongoClient.connect(mongodbUri);
  await client.db(name).dropDatabase().catch(() => {});
  await client.close();
  return { seconds, published, samples };
}

// ---------- series from samples, as the dashboard's PromQL would compute them ----------
const M = 'humiris_webhooks_';
const pick = (s, name, where = {}) => s.samples.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v));
const groupKey = (labels, by) => by.map((k) => labels[k]).join(' ');

function sumBy(s, name, by, where) {
  const out = new Map();
  for (const x of pick(s, name, where)) out.set(groupKey(x.labels, by), (out.get(groupKey(x.labels, by)) ?? 0) + x.value);
  return out;
}

/** rate() over `window` samples, summed by labels. */
function rate(run, name, by = [], window = 2, where) {
  const series = new Map();
  for (let i = window; i < run.samples.length; i++) {
    const a = run.samples[i - window];
    const b = run.samples[i];
    const before = sumBy(a, name, by, where);
    for (const [key, value] of sumBy(b, name, by, where)) {
      const v = Math.max(0, (value - (before.get(key) ?? 0)) / ((b.t - a.t) / 1000));
      if (!series.has(key)) series.set(key, []);
      series.get(key).push([b.t, v]);
    }
  }
  return series;
}

function gauge(run, name, by = [], reduce = 'sum') {
  const series = new Map();
  for (const s of run.samples) {
    const values = new Map();
    for (const x of pick(s, name)) {
      const key = groupKey(x.labels, by);
      values.set(key, reduce === 'max' ? Math.max(values.get(key) ?? 0, x.value) : (values.get(key) ?? 0) + x.value);
    }
    for (const [key, v] of values) {
      if (!series.has(key)) series.set(key, []);
      series.get(key).push([s.t, v]);
    }
  }
  return series;
}

/** histogram_quantile(q, rate(…_bucket[window])) by labels, with Prometheus's linear interpolation. */
function quantile(run, name, q, by = [], window = 5) {
  const series = new Map();
  for (let i = window; i < run.samples.length; i++) {
    const a = run.samples[i - window];
    const b = run.samples[i];
    const buckets = new Map();
    const earlier = new Map(pick(a, `${name}_bucket`).map((y) => [JSON.stringify(y.labels), y.value]));
    for (const x of pick(b, `${name}_bucket`)) {
      const key = groupKey(x.labels, by);
      const old = { value: earlier.get(JSON.stringify(x.labels)) ?? 0 };
      const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
      if (!buckets.has(key)) buckets.set(key, new Map());
      const m = buckets.get(key);
      m.set(le, (m.get(le) ?? 0) + x.value - (old?.value ?? 0));
    }
    for (const [key, m] of buckets) {
      const sorted = [...m].sort((x, y) => x[0] - y[0]);
      const total = sorted.at(-1)?.[1] ?? 0;
      if (total <= 0) continue;
      const rank = q * total;
      let prevLe = 0;
      let prevCount = 0;
      let value = NaN;
      for (const [le, count] of sorted) {
        if (count >= rank) {
          value = le === Infinity ? prevLe : prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(count - prevCount, 1e-9));
          break;
        }
        prevLe = le;
        prevCount = count;
      }
      if (!series.has(key)) series.set(key, []);
      series.get(key).push([b.t, value]);
    }
  }
  return series;
}

const label = (prefix, series) => new Map([...series].map(([k, v]) => [k ? `${prefix}${k}` : prefix.trim(), v]));
const merge = (...maps) => new Map(maps.flatMap((m) => [...m]));
const last = (run, name, by = [], where) => [...sumBy(run.samples.at(-1), name, by, where).values()].reduce((a, b) => a + b, 0);
const shortGroup = (series) => new Map([...series].map(([k, v]) => [k.replace(/^.*-webhooks-/, ''), v]));
const shortTopic = (series) => new Map([...series].map(([k, v]) => [k.replace(/^\S*\.webhooks\./, ''), v]));

function panels(run) {
  const ended = last(run, `${M}deliveries_total`, [], { outcome: 'succeeded' }) + last(run, `${M}deliveries_total`, [], { outcome: 'failed' });
  const lagPeak = Math.max(0, ...[...gauge(run, `${M}consumer_lag`, ['group'])].flatMap(([, pts]) => pts.map(([, v]) => v)));
  const stats = [
    ['Events published', run.published.toLocaleString('en')],
    ['Deliveries ended', ended.toLocaleString('en')],
    ['Failure ratio', `${((100 * last(run, `${M}deliveries_total`, [], { outcome: 'failed' })) / Math.max(ended, 1)).toFixed(1)} %`],
    ['Dead letters', last(run, `${M}dlq_records_total`).toLocaleString('en')],
    ['Invalid events', last(run, `${M}invalid_events_total`).toLocaleString('en')],
    ['Peak consumer lag', lagPeak.toLocaleString('en')],
  ];
  const charts = [
    ['Deliveries by outcome', '/s', rate(run, `${M}deliveries_total`, ['outcome'])],
    ['Deliveries by event type', '/s', rate(run, `${M}deliveries_total`, ['event_type'])],
    ['Attempts by status class', '/s', rate(run, `${M}attempt_duration_seconds_count`, ['status_class'])],
    ['Attempt duration p95 by status class', 's', quantile(run, `${M}attempt_duration_seconds`, 0.95, ['status_class'])],
    ['Event to first attempt (p50 / p95 / p99)', 's', merge(label('p50', quantile(run, `${M}first_attempt_latency_seconds`, 0.5)), label('p95', quantile(run, `${M}first_attempt_latency_seconds`, 0.95)), label('p99', quantile(run, `${M}first_attempt_latency_seconds`, 0.99)))],
    ['Sends in flight', '', gauge(run, `${M}sends_in_flight`)],
    ['Consumer lag by group', 'records', shortGroup(gauge(run, `${M}consumer_lag`, ['group']))],
    ['Retry topic depth by step', 'tasks', gauge(run, `${M}retry_topic_depth`, ['step'], 'max')],
    ['Dead-letter and invalid-event records', '/s', merge(label('dead letters', rate(run, `${M}dlq_records_total`, [], 5)), label('invalid events', rate(run, `${M}invalid_events_total`, [], 5)))],
    ['Deferred tasks by reason', '/s', rate(run, `${M}deferred_tasks_total`, ['reason'])],
    ['Store write latency p95 by operation', 's', quantile(run, `${M}store_write_duration_seconds`, 0.95, ['operation'])],
    ['API requests by RPC and code', '/s', rate(run, `${M}api_requests_total`, ['rpc', 'code'])],
    ['API latency p95 by RPC', 's', quantile(run, `${M}api_request_duration_seconds`, 0.95, ['rpc'])],
    ['CPU (cores)', '', rate(run, 'process_cpu_seconds_total')],
    ['Resident memory', 'MiB', new Map([...gauge(run, 'process_resident_memory_bytes')].map(([k, pts]) => [k || 'rss', pts.map(([t, v]) => [t, v / 2 ** 20])]))],
  ];
  return { stats, charts: charts.map(([title, unit, series]) => ({ title, unit, series: shortTopic(series) })) };
}

// ---------- drawing ----------
const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#ff9830', '#96d98d', '#fade2a', '#c0d8ff', '#ffb357'];
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmt = (v) => (v === 0 ? '0' : Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));

function chart({ title, unit, series }, duration) {
  const W = 540;
  const H = 250;
  const pad = { l: 46, r: 12, t: 30, b: 58 };
  const all = [...series.values()].flat().filter(([, v]) => Number.isFinite(v));
  const max = Math.max(1e-9, ...all.map(([, v]) => v)) * 1.1;
  const x = (t) => pad.l + (t / duration) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  let svg = `<rect width="${W}" height="${H}" rx="4" fill="#181b1f" stroke="#2c3235"/>`;
  svg += `<text x="10" y="19" fill="#ccccdc" font-size="13" font-weight="600">${escape(title)}${unit ? `<tspan fill="#8e8e8e" font-weight="400"> · ${escape(unit)}</tspan>` : ''}</text>`;
  for (let i = 0; i <= 4; i++) {
    const v = (max / 1.1) * (i / 4);
    svg += `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>`;
    svg += `<text x="${pad.l - 6}" y="${y(v) + 4}" fill="#8e8e8e" font-size="10" text-anchor="end">${fmt(v)}</text>`;
  }
  for (let s = 0; s <= duration / 1000; s += 30) {
    svg += `<text x="${x(s * 1000)}" y="${H - pad.b + 14}" fill="#8e8e8e" font-size="10" text-anchor="middle">${s}s</text>`;
  }
  const entries = [...series].sort(([a], [b]) => a.localeCompare(b)).slice(0, 12);
  if (entries.length === 0) svg += `<text x="${W / 2}" y="${H / 2}" fill="#8e8e8e" font-size="12" text-anchor="middle">no data</text>`;
  let lx = pad.l;
  let ly = H - pad.b + 30;
  entries.forEach(([name, pts], i) => {
    const color = COLORS[i % COLORS.length];
    const d = pts.filter(([, v]) => Number.isFinite(v)).map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    if (d) svg += `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`;
    const text = name || 'value';
    const width = 16 + text.length * 5.6;
    if (lx + width > W - pad.r) {
      lx = pad.l;
      ly += 13;
    }
    svg += `<rect x="${lx}" y="${ly - 7}" width="10" height="3" fill="${color}"/><text x="${lx + 14}" y="${ly - 2}" fill="#ccccdc" font-size="10">${escape(text)}</text>`;
    lx += width + 8;
  });
  return `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" font-family="Inter, Helvetica, Arial, sans-serif">${svg}</svg>`;
}

function page(run) {
  const { stats, charts } = panels(run);
  const duration = run.samples.at(-1).t;
  const statHtml = stats.map(([k, v]) => `<div class="stat"><div class="k">${escape(k)}</div><div class="v">${escape(v)}</div></div>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin: 0; padding: 16px; background: #111217; color: #ccccdc; font-family: Inter, Helvetica, Arial, sans-serif; width: 1636px; }
    h1 { font-size: 18px; margin: 0 0 4px; font-weight: 600; } p { margin: 0 0 12px; color: #8e8e8e; font-size: 12px; }
    .stats { display: grid; grid-template-columns: repeat(6, 1fr); gap: 8px; margin-bottom: 8px; }
    .stat { background: #181b1f; border: 1px solid #2c3235; border-radius: 4px; padding: 8px 12px; }
    .k { font-size: 12px; color: #8e8e8e; } .v { font-size: 26px; color: #73bf69; font-weight: 600; }
    .grid { display: grid; grid-template-columns: repeat(3, 540px); gap: 8px; }
  </style></head><body>
  <h1>Humiris Webhooks</h1>
  <p>GET /metrics sampled every ${SAMPLE_MS / 1000} s during a ${run.seconds} s run on the local stack: events published at 10 → 60/s, a 180/s burst, then a quiet tail, to receivers that are fast, slow, flaky (35% 500), down (503) and hanging (2 s timeout); retry schedule 5s,15s. Panels as in docs/grafana-dashboard.json.</p>
  <div class="stats">${statHtml}</div>
  <div class="grid">${charts.map((c) => chart(c, duration)).join('')}</div>
  </body></html>`;
}

// ---------- main ----------
const data = args.from ? JSON.parse(readFileSync(args.from, 'utf8')) : await run(Number(args.seconds));
if (args.samples) writeFileSync(args.samples, JSON.stringify(data));
const dir = mkdtempSync(path.join(tmpdir(), 'metrics-picture-'));
const html = path.join(dir, 'dashboard.html');
writeFileSync(html, page(data));
const rows = Math.ceil(panels(data).charts.length / 3);
const height = 32 + 60 + 78 + rows * 258 + 10;
execFileSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--window-size=1668,${height}`, `--screenshot=${args.out}`, `file://${html}`], { stdio: 'ignore' });
say(`wrote ${path.relative(process.cwd(), args.out)} (${data.samples.length} samples, page ${html})`);
