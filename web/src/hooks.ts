import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from './api.js';

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside a signed-in session');
  return api;
}

export interface Resource<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload(): void;
}

/**
 * Loads `load()` whenever `key` changes, and again every `refreshMs` while the tab is visible.
 * A refresh keeps showing the previous data (no flicker); a new key starts empty.
 */
export function useResource<T>(key: string, load: () => Promise<T>, refreshMs = 0): Resource<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loading: boolean }>({ key, loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let cancelled = false;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    loadRef.current().then(
      (data) => !cancelled && setState({ key, data, loading: false }),
      (error: Error) => !cancelled && setState((s) => ({ key, data: s.key === key ? s.data : undefined, error, loading: false })),
    );
    return () => {
      cancelled = true;
    };
  }, [key, tick]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => {
      if (!document.hidden) setTick((n) => n + 1);
    }, refreshMs);
    return () => clearInterval(timer);
  }, [key, refreshMs]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const current = state.key === key ? state : { key, loading: true };
  return { data: current.data, error: current.error, loading: current.loading, reload };
}

/** A page cursor stack for "Newer" / "Older" paging over newest-first lists. */
export function useCursorPager(resetKey: string) {
  const [stack, setStack] = useState<{ key: string; cursors: string[] }>({ key: resetKey, cursors: [''] });
  const cursors = stack.key === resetKey ? stack.cursors : [''];
  return {
    cursor: cursors[cursors.length - 1] ?? '',
    page: cursors.length,
    older: (next: string) => setStack({ key: resetKey, cursors: [...cursors, next] }),
    newer: () => setStack({ key: resetKey, cursors: cursors.slice(0, -1) }),
  };
}
