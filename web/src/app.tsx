import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApi } from './api.js';
import { DeliveryPage } from './components/delivery-page.js';
import { SignIn } from './components/sign-in.js';
import { EditWebhookPage, NewWebhookPage } from './components/webhook-editor.js';
import { WebhookList } from './components/webhook-list.js';
import { WebhookPage } from './components/webhook-page.js';
import { ApiContext } from './hooks.js';
import { Link, paths, useRoute, type Route } from './router.js';
import { clearKey, loadKey, saveKey } from './session.js';

export function App() {
  const [key, setKey] = useState<string | null>(loadKey);
  const [notice, setNotice] = useState('');
  const route = useRoute();
  const mainRef = useRef<HTMLDivElement>(null);
  // After a client-side navigation, move focus to the new page, as a full page load would.
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) firstRoute.current = false;
    else mainRef.current?.focus();
  }, [JSON.stringify(route)]);

  const signOut = (message = '') => {
    clearKey();
    setKey(null);
    setNotice(message);
  };
  const api = useMemo(() => (key ? createApi(key, () => signOut('Your API key is no longer accepted. Sign in with a valid key.')) : null), [key]);

  if (!api) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(k) => {
          saveKey(k);
          setNotice('');
          setKey(k);
        }}
      />
    );
  }
  return (
    <ApiContext.Provider value={api}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href={paths.webhooks()} class="brand">
          Humiris Webhooks
        </Link>
        <nav aria-label="Main">
          <Link href={paths.webhooks()}>Webhooks</Link>
        </nav>
        <button type="button" class="button-secondary" onClick={() => signOut('You are signed out.')}>
          Sign out
        </button>
      </header>
      <div id="main" tabIndex={-1} ref={mainRef} class="focus-target">
        <Page route={route} />
      </div>
    </ApiContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case 'webhooks':
      return <WebhookList />;
    case 'new-webhook':
      return <NewWebhookPage />;
    case 'webhook':
      return <WebhookPage key={route.id} id={route.id} />;
    case 'edit-webhook':
      return <EditWebhookPage id={route.id} />;
    case 'delivery':
      return <DeliveryPage key={route.deliveryId} id={route.id} deliveryId={route.deliveryId} />;
    case 'not-found':
      return (
        <main>
          <h1>Page not found</h1>
          <p>
            <Link href={paths.webhooks()}>Back to webhooks</Link>
          </p>
        </main>
      );
  }
}
