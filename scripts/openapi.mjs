#!/usr/bin/env node
// Writes docs/openapi.json from proto/: buf builds the descriptors with their comments, and the
// built dist/api/openapi.js turns them into OpenAPI 3.1 (run through `npm run openapi`).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENAPI_FILE, openApiFromDescriptorSet, openApiText } from '../dist/api/openapi.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const descriptors = execFileSync(path.join(root, 'scripts/buf.sh'), ['build', '--as-file-descriptor-set', '-o', '-'], {
  cwd: root,
  maxBuffer: 64 * 1024 * 1024,
});
writeFileSync(OPENAPI_FILE, openApiText(openApiFromDescriptorSet(descriptors, version)));
console.log(`wrote ${path.relative(root, OPENAPI_FILE)}`);
