import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/**
 * The dashboard is served by the API itself under /dashboard/ (src/api/dashboard-static.ts),
 * so the build lands in dist/dashboard beside the compiled server.
 */
export default defineConfig({
  root: here('.'),
  base: '/dashboard/',
  plugins: [preact()],
  build: {
    outDir: here('../dist/dashboard'),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `vite --config web/vite.config.ts` for UI work against a running `npm start`.
    proxy: { '/v1': process.env.HUMIRIS_API_URL ?? 'http://127.0.0.1:8080' },
  },
});
