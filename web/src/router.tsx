import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Client routes live under Vite's base (/dashboard/); the server answers index.html for them. */
const BASE = import.meta.env.BASE_URL.replace(/\/+$/, '');

export type Route =
  | { name: 'webhooks' }
  | { name: 'new-webhook' }
  | { name: 'webhook'; id: string }
  | { name: 'edit-webhook'; id: string }
  | { name: 'delivery'; id: string; deliveryId: string }
  | { name: 'not-found' };

function parseRoute(pathname: string): Route {
  const path = (pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname).replace(/\/+$/, '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'webhooks' };
  if (parts[0] !== 'webhooks') return { name: 'not-found' };
  const [, id, section, deliveryId] = parts;
  if (parts.length === 1) return { name: 'webhooks' };
  if (id === 'new' && parts.length === 2) return { name: 'new-webhook' };
  if (id && parts.length === 2) return { name: 'webhook', id };
  if (id && section === 'edit' && parts.length === 3) return { name: 'edit-webhook', id };
  if (id && section === 'deliveries' && deliveryId && parts.length === 4) return { name: 'delivery', id, deliveryId };
  return { name: 'not-found' };
}

export const paths = {
  webhooks: () => `${BASE}/`,
  newWebhook: () => `${BASE}/webhooks/new`,
  webhook: (id: string) => `${BASE}/webhooks/${encodeURIComponent(id)}`,
  editWebhook: (id: string) => `${BASE}/webhooks/${encodeURIComponent(id)}/edit`,
  delivery: (id: string, deliveryId: string) => `${BASE}/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}`,
};

export function navigate(href: string): void {
  history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return route;
}

/** An ordinary link (so middle-click and keyboard work) that navigates without a reload. */
export function Link(props: { href: string; class?: string; children: ComponentChildren; 'aria-label'?: string }) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} aria-label={props['aria-label']} onClick={onClick}>
      {props.children}
    </a>
  );
}
