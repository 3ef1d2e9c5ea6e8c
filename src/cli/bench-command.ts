import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `humiris-webhooks bench`: runs the benchmark of bench/ (as `npm run bench` does, on the built dist). */
export function benchCommand(args: string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));
  if (!existsSync(script)) {
    process.stderr.write('The benchmark comes with the source checkout (bench/): run it there with `npm run bench`.\n');
    return Promise.resolve(2);
  }
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}
