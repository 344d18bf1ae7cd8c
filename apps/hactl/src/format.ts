import type { StatusDoc } from '@ha/events';

const table = (rows: string[][]): string => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
};

/** The human form of `hactl status`. */
export const formatStatus = (s: StatusDoc): string => {
  const out: string[] = [];
  out.push(`cluster ${s.cluster ?? '(no configuration yet)'}   active SCS ${s.scs.active ?? '(none)'}   epoch ${s.scs.epoch}   as of seq ${s.scs.lastSeq ?? '?'}`);
  if (s.scs.caughtUp === false) {
    const behind = s.scs.logLastSeq == null ? 'the log could not be read' : `its view ends at seq ${s.scs.lastSeq ?? '?'} and the log at ${s.scs.logLastSeq}`;
    out.push(`WARNING: ${s.scs.answeredBy ?? 'the SCS'} answered before catching up with the log (${behind}); this view may be out of date`);
  }
  for (const p of s.scs.problems ?? []) out.push(`PROBLEM (${s.scs.answeredBy ?? 'the SCS'}): ${p}`);
  if (s.truncated) out.push(`NOTE: only part of the status fits in one message: ${s.truncated.note}`);
  if (s.scs.acting === false) out.push('WARNING: no SCS can act now (lease not held: is Redis reachable?); failures are shown but not acted on');
  out.push('');
  out.push(table([['HOST', 'LCA', 'LAST HEARTBEAT'], ...s.hosts.map((h) => [h.id, h.lca, h.lastHeartbeatAt ?? '-'])]));
  out.push('');
  out.push(table([['APPLICATION', 'HOST', 'STATUS', 'ROLE', 'PID', 'RESTARTS'], ...s.applications.map((a) => [a.id, a.host, a.status + (a.gaveUp ? ' (gave up)' : ''), a.role, a.pid === null ? '-' : String(a.pid), String(a.restarts)])]));
  out.push('');
  out.push(table([['PAIR', 'PRIMARY', 'BACKUP', 'CURRENT', 'STATE', 'AUTO', 'LAST REFUSAL'], ...s.pairs.map((p) => [p.id, p.primary, p.backup, p.current ?? '-', p.state, p.autoSwitchover ? 'yes' : 'no', p.lastRefusal ?? '-'])]));
  return out.join('\n') + '\n';
};
