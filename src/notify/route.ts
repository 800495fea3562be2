/** Routing: which channels a notification goes to, and which channels stand in when one fails. */
import type { NotifyRoute } from '../project/notify-schema.js';
import type { Notification } from './types.js';

export interface RoutedChannel {
  readonly channel: string;
  readonly fallback: readonly string[];
}

/** Every matching route contributes its channels; a channel named by two routes gets both fallbacks. */
export function routeNotification(routes: readonly NotifyRoute[], n: Notification): RoutedChannel[] {
  const out = new Map<string, Set<string>>();
  for (const r of routes) {
    if (!matches(r, n)) continue;
    for (const channel of r.channels) {
      const fallback = out.get(channel) ?? new Set<string>();
      for (const f of r.fallback) if (f !== channel) fallback.add(f);
      out.set(channel, fallback);
    }
  }
  return [...out].map(([channel, fallback]) => ({ channel, fallback: [...fallback] }));
}

export function matches(route: NotifyRoute, n: Notification): boolean {
  const { severity, labels } = route.match;
  if (severity && !severity.includes(n.severity)) return false;
  return Object.entries(labels ?? {}).every(([k, v]) => n.labels[k] === v);
}
