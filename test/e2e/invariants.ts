import { expect } from 'vitest';

type Ev = { seq: number; data: Record<string, unknown> };

/**
 * Replays the roles the LCAs reported in HA_EVENTS and lists every moment at which two members of
 * one pair were reported primary at once (a host declared lost fences its primaries, DESIGN rule 9).
 */
export const neverTwoPrimaries = (events: Ev[]): string[] => {
  const config = [...events].reverse().find((e) => e.data['type'] === 'ConfigApplied')?.data['config'] as { applications: { id: string; host: string; redundancy?: { backup: string } }[] } | undefined;
  if (!config) return [];
  const pairOf = new Map<string, string>();
  const hostOf = new Map<string, string>();
  for (const a of config.applications) {
    hostOf.set(a.id, a.host);
    if (a.redundancy) {
      pairOf.set(a.id, a.id);
      pairOf.set(a.redundancy.backup, a.id);
    }
  }
  const primary = new Set<string>();
  const lost = new Set<string>();
  const out: string[] = [];
  for (const e of events) {
    const d = e.data;
    switch (d['type']) {
      case 'AppRoleChanged':
        if (d['role'] === 'primary') primary.add(d['app'] as string);
        else primary.delete(d['app'] as string);
        break;
      case 'AppExited':
        primary.delete(d['app'] as string);
        break;
      case 'LcaStarted':
        lost.delete(d['host'] as string);
        for (const [app, host] of hostOf) if (host === d['host']) primary.delete(app);
        break;
      case 'HostLost':
        lost.add(d['host'] as string);
        break;
      case 'HostReturned':
        lost.delete(d['host'] as string);
        break;
    }
    const acting = new Map<string, string[]>();
    for (const app of primary) {
      if (lost.has(hostOf.get(app) ?? '')) continue;
      const p = pairOf.get(app);
      if (p) acting.set(p, [...(acting.get(p) ?? []), app]);
    }
    for (const [p, apps] of acting) if (apps.length > 1) out.push(`seq ${e.seq}: pair ${p} has primaries ${apps.join(', ')}`);
  }
  return out;
};

/** Teardown of an e2e cluster: checks that the log never shows two primaries of a pair, then always stops it. */
export const stopChecked = async (c: { events(): Promise<Ev[]>; stop(): Promise<void> } | undefined): Promise<void> => {
  if (!c) return;
  try {
    expect(neverTwoPrimaries(await c.events())).toEqual([]);
  } finally {
    await c.stop();
  }
};
