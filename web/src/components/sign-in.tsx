import { useState } from 'preact/hooks';
import { ApiError, createApi } from '../api.js';

export function SignIn({ onSignedIn, notice }: { onSignedIn(key: string): void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return setError('Paste an API key to sign in.');
    setBusy(true);
    setError('');
    try {
      // Any authenticated call proves the key; the smallest one is a one-item list.
      await createApi(trimmed).listWebhooks(1);
      onSignedIn(trimmed);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? 'That API key was not accepted. Check that you pasted the whole key (hum_sk_live_… or hum_sk_test_…) and that it has not been revoked.'
          : (e as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Humiris Webhooks</h1>
      <form class="card" onSubmit={submit} noValidate>
        <h2>Sign in</h2>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          class="mono"
          autocomplete="off"
          spellcheck={false}
          placeholder="hum_sk_live_…"
          value={key}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'api-key-error api-key-help' : 'api-key-help'}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <p id="api-key-help" class="muted">
          Create one with <code>humiris-webhooks api-key create --workspace &lt;slug&gt;</code>. It is kept in this tab only and
          forgotten when you sign out or close the tab.
        </p>
        {error && (
          <p id="api-key-error" class="notice notice-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
