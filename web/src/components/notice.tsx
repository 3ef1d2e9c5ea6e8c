export function ErrorNotice({ error }: { error?: Error | null }) {
  if (!error) return null;
  return (
    <div class="notice notice-error" role="alert">
      {error.message}
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
