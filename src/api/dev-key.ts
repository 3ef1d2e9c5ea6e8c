import type { ApiKeyStore } from '../store/api-key-store.js';

const DEV_WORKSPACE = 'dev';

/**
 * On the local default stack with no key at all, creates workspace `dev` and a key so a new
 * user can follow the README at once. The key is printed (never logged): this is its only showing.
 */
export async function ensureDevKey(keys: ApiKeyStore, print: (text: string) => void): Promise<boolean> {
  if (!(await keys.isEmpty())) return false;
  const { key } = await keys.create(DEV_WORKSPACE, 'created on first start');
  print(
    [
      '',
      `Created workspace "${DEV_WORKSPACE}" and its first API key (shown only this once):`,
      '',
      `  export HUMIRIS_API_KEY=${key}`,
      '',
      'More keys: humiris-webhooks api-key create --workspace <slug>',
      '',
    ].join('\n'),
  );
  return true;
}
