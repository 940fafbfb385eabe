// Hash routing (#/vaults) so deep links and reloads work the same from file://, Electron and
// the browser console. Pages register here; the nav and the App read this one table.
import { useEffect, useState } from 'react';
import type { MessageKey } from './i18n/index.js';

export type RouteId = 'dashboard' | 'vaults' | 'sources' | 'registeredItems' | 'protectedItems' | 'recoveryPoints' | 'jobs' | 'policies';

export interface RouteDef {
  id: RouteId;
  path: string;
  label: MessageKey;
  section: 'overview' | 'manage' | 'monitor';
}

export const routes: readonly RouteDef[] = [
  { id: 'dashboard', path: '/dashboard', label: 'nav.dashboard', section: 'overview' },
  { id: 'vaults', path: '/vaults', label: 'nav.vaults', section: 'manage' },
  { id: 'sources', path: '/sources', label: 'nav.sources', section: 'manage' },
  { id: 'registeredItems', path: '/registered-items', label: 'nav.registeredItems', section: 'manage' },
  { id: 'protectedItems', path: '/protected-items', label: 'nav.protectedItems', section: 'manage' },
  { id: 'recoveryPoints', path: '/recovery-points', label: 'nav.recoveryPoints', section: 'manage' },
  { id: 'policies', path: '/policies', label: 'nav.policies', section: 'manage' },
  { id: 'jobs', path: '/jobs', label: 'nav.jobs', section: 'monitor' },
];

export const defaultRoute: RouteId = 'vaults';

export interface Location {
  /** Path after '#', e.g. '/vaults'. */
  path: string;
  /** Query after '?' in the hash, e.g. for '#/jobs?status=Failed'. */
  query: URLSearchParams;
  route: RouteDef | undefined;
}

export function hrefOf(id: RouteId, query?: Record<string, string>): string {
  const def = routes.find((r) => r.id === id);
  const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
  return `#${def?.path ?? '/'}${qs}`;
}

export function parseHash(hash: string): Location {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = raw.split('?', 2);
  const route = routes.find((r) => r.path === path || path.startsWith(`${r.path}/`));
  return { path, query: new URLSearchParams(qs), route };
}

/** Replaces the query of the current page without adding a history entry per keystroke. */
export function replaceQuery(id: RouteId, query: Record<string, string>): void {
  const clean = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
  const next = hrefOf(id, Object.keys(clean).length ? clean : undefined);
  if (window.location.hash !== next) {
    window.history.replaceState(null, '', next);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }
}

export function navigate(id: RouteId, query?: Record<string, string>): void {
  window.location.hash = hrefOf(id, query);
}

/** The current location, following hashchange; an empty hash goes to the default page. */
export function useLocation(): Location {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    if (!window.location.hash || window.location.hash === '#' || window.location.hash === '#/') {
      window.history.replaceState(null, '', hrefOf(defaultRoute));
      onChange();
    }
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return parseHash(hash);
}
