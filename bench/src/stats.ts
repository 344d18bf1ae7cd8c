/** Percentiles (nearest rank) of a list of milliseconds. */
export type Summary = { n: number; p50: number; p95: number; p99: number; max: number; min: number; mean: number };

export const summarize = (xs: readonly number[]): Summary => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(s.at(-1) ?? NaN), min: r(s[0] ?? NaN), mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) };
};

export const row = (name: string, s: Summary, unit = 'ms'): string =>
  `${name.padEnd(46)} n=${String(s.n).padStart(4)}  p50 ${s.p50.toFixed(2).padStart(8)}  p95 ${s.p95.toFixed(2).padStart(8)}  p99 ${s.p99.toFixed(2).padStart(8)}  max ${s.max.toFixed(2).padStart(8)} ${unit}`;
