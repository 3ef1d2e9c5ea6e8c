import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard } from '../../src/api/dashboard-static.js';

describe('serveDashboard', () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'dashboard-static-'));
    dir = path.join(parent, 'dashboard');
    await mkdir(path.join(dir, 'assets'), { recursive: true });
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(path.join(dir, 'assets', 'index-abc123.css'), 'body{}');
    // A file beside the root that traversal must not reach.
    await writeFile(path.join(parent, 'secret.txt'), 'do not serve');
    server = http.createServer((req, res) => {
      if (!serveDashboard(req, res, dir)) res.writeHead(418).end('not mine');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return async () => {
      await new Promise((resolve) => server.close(resolve));
      await rm(parent, { recursive: true, force: true });
    };
  });
  afterAll(() => server.closeAllConnections());

  it('serves hashed assets with their type and a long cache', async () => {
    const js = await fetch(`${base}/dashboard/assets/index-abc123.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(await js.text()).toBe('console.log(1)');
    const css = await fetch(`${base}/dashboard/assets/index-abc123.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers index.html, uncached, for the root and client routes', async () => {
    for (const route of ['/dashboard', '/dashboard/', '/dashboard/webhooks/whk_1/deliveries/dlv_2?x=1']) {
      const res = await fetch(base + route);
      expect(res.status, route).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<title>app</title>');
    }
  });

  it('404s a missing file that has an extension', async () => {
    expect((await fetch(`${base}/dashboard/assets/missing.js`)).status).toBe(404);
  });

  it('never leaves its directory', async () => {
    for (const attempt of ['/dashboard/../secret.txt', '/dashboard/%2e%2e/secret.txt', '/dashboard/..%2fsecret.txt', '/dashboard/assets/..%2f..%2fsecret.txt', '/dashboard/%00']) {
      const body = await rawGet(attempt);
      expect(body, attempt).not.toContain('do not serve');
    }
  });

  it('leaves other paths to the caller and refuses writes', async () => {
    expect((await fetch(`${base}/v1/webhooks`)).status).toBe(418);
    expect((await fetch(`${base}/dashboardx`)).status).toBe(418);
    expect((await fetch(`${base}/dashboard/`, { method: 'POST' })).status).toBe(405);
  });

  /** fetch normalises `..` away; a raw request sends the path exactly as written. */
  function rawGet(pathname: string): Promise<string> {
    return new Promise((resolve, reject) => {
      http
        .get(`${base}/`, { path: pathname }, (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        })
        .on('error', reject);
    });
  }
});
