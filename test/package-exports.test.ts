import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

describe('humiris-webhooks/verify', () => {
  it('is importable by its package name from the build, as a receiver imports it', async () => {
    expect(existsSync(path.join(root, 'dist/verify.js')), 'dist/verify.js: run npm run build first').toBe(true);
    const secret = 'whsec_exportexportexportexportexportexportexpo';
    const body = '{"id":"evt_1","data":{}}';
    const t = Math.floor(Date.now() / 1000);
    const header = `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
    const script = `
      import { verifyWebhook } from 'humiris-webhooks/verify';
      const [body, header, secret] = process.argv.slice(1);
      console.log(JSON.stringify([verifyWebhook(body, header, secret), verifyWebhook(body + ' ', header, secret)]));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, body, header, secret], { cwd: root });
    expect(JSON.parse(stdout)).toEqual([true, false]);
  });

  it('comes with its types', async () => {
    const dir = path.join(root, '.tmp');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'verify-types.ts');
    writeFileSync(
      file,
      `import { verifyWebhook, type VerifyOptions } from 'humiris-webhooks/verify';\n` +
        `const options: VerifyOptions = { toleranceSeconds: 60 };\n` +
        `export const ok: boolean = verifyWebhook(new Uint8Array(2), ['t=1', 'v1=00'], 'whsec_x', options);\n`,
    );
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const args = [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', file];
    await expect(run(process.execPath, args, { cwd: root })).resolves.toBeDefined();
  }, 30_000);
});
