import type { ComponentChildren } from 'preact';

export function ErrorNotice({ error, children }: { error?: Error | null; children?: ComponentChildren }) {
  if (!error && !children) return null;
  return (
    <div class="notice notice-error" role="alert">
      {children ?? error?.message}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="muted" role="status">
      {label}
    </p>
  );
}
