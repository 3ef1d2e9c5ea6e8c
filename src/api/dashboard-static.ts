import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import type http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` puts the dashboard; src/api and dist/api both sit two levels below the root. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard', import.meta.url));
const DASHBOARD_PREFIX = '/dashboard';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Serves the built dashboard under /dashboard. Returns false (touching nothing) for any other
 * path so the caller can route it; true means the request is answered here.
 */
export function serveDashboard(req: Request, res: Response, root = DASHBOARD_DIR): boolean {
  const pathname = (req.url ?? '/').split('?')[0] ?? '/';
  if (pathname !== DASHBOARD_PREFIX && !pathname.startsWith(`${DASHBOARD_PREFIX}/`)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    return true;
  }
  void respond(req, res, root, pathname.slice(DASHBOARD_PREFIX.length)).catch(() => {
    if (!res.headersSent) send(res, 500, 'Internal Server Error');
    else res.destroy?.();
  });
  return true;
}

async function respond(req: Request, res: Response, rootDir: string, relative: string): Promise<void> {
  const root = path.resolve(rootDir);
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return send(res, 400, 'Bad Request');
  }
  // Normalising the decoded path first means `..` (in any encoding) cannot climb out of root.
  const normal = path.posix.normalize(`/${decoded}`);
  const file = path.join(root, normal);
  if (decoded.includes('\0') || (file !== root && !file.startsWith(root + path.sep))) return send(res, 404, 'Not Found');

  const found = await fileAt(file);
  if (found) return stream(req, res, found.path, found.size, isHashedAsset(normal));
  // Client routes (/dashboard/webhooks/whk_…) have no extension: they get the app shell.
  if (path.posix.extname(normal) === '') {
    const index = await fileAt(path.join(root, 'index.html'));
    if (index) return stream(req, res, index.path, index.size, false);
    return send(res, 503, 'The dashboard is not built. Run `npm run build:web`.');
  }
  send(res, 404, 'Not Found');
}

async function fileAt(file: string): Promise<{ path: string; size: number } | null> {
  const info = await stat(file).catch(() => null);
  if (info?.isFile()) return { path: file, size: info.size };
  if (info?.isDirectory()) return fileAt(path.join(file, 'index.html'));
  return null;
}

/** Vite names built assets by content hash, so they can be cached for good; index.html never. */
const isHashedAsset = (normal: string): boolean => normal.startsWith('/assets/');

function stream(req: Request, res: Response, file: string, size: number, immutable: boolean): void {
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(size),
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(type.startsWith('text/html') ? { 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const body = createReadStream(file);
  body.on('error', () => res.destroy?.());
  body.pipe(res as NodeJS.WritableStream);
}

function send(res: Response, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
