import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

describe('proto/', () => {
  it('is buf lint clean', async () => {
    const { stdout, stderr } = await exec('scripts/buf.sh', ['lint'], { cwd: root });
    expect(stdout + stderr).toBe('');
  });

  it('matches the committed code in src/gen (run `npm run generate` after editing a .proto)', async () => {
    const file = 'src/gen/humiris/webhooks/v1/webhook_service_pb.ts';
    const committed = await readFile(`${root}${file}`, 'utf8');
    const out = `${root}.buf/gen-check`;
    await exec('scripts/buf.sh', ['generate', '--template', JSON.stringify({
      version: 'v2',
      inputs: [{ directory: 'proto' }],
      plugins: [{ local: 'protoc-gen-es', out, include_imports: true, opt: ['target=ts', 'import_extension=js'] }],
    })], { cwd: root });
    expect(await readFile(`${out}/humiris/webhooks/v1/webhook_service_pb.ts`, 'utf8')).toBe(committed);
  });
});
