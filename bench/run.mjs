#!/usr/bin/env node
// `npm run bench [-- --quick]` and `humiris-webhooks bench`: compiles bench/ (and the src/ it
// uses) into dist-bench/, incrementally, then runs it against the built service (dist/).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
try {
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.bench.json'], { cwd: root, stdio: 'inherit' });
} catch {
  process.stderr.write('compiling the benchmark (tsc -p tsconfig.bench.json) failed\n');
  process.exit(1);
}
const { benchMain } = await import('../dist-bench/bench/main.js');
process.exitCode = await benchMain(process.argv.slice(2));
