export interface PagerProps {
  label: string;
  page: number;
  nextCursor?: string;
  onNewer(): void;
  onOlder(cursor: string): void;
}

export function Pager({ label, page, nextCursor, onNewer, onOlder }: PagerProps) {
  if (page === 1 && !nextCursor) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" class="button-secondary" disabled={page === 1} onClick={onNewer}>
        ← Newer
      </button>
      <span class="muted">Page {page}</span>
      <button type="button" class="button-secondary" disabled={!nextCursor} onClick={() => nextCursor && onOlder(nextCursor)}>
        Older →
      </button>
    </nav>
  );
}
