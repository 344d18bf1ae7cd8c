// `new Date(ms).toISOString()` without the Date: the same string, several times faster (it made a
// tenth of a replay's time, two per switchover). Days to a civil date after Howard Hinnant's
// `civil_from_days` (http://howardhinnant.github.io/date_algorithms.html).

const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00.000Z: from there on, `toISOString` writes six-digit years. */
const YEAR_10000 = 253_402_300_800_000;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** The ISO 8601 form of a time in ms since the epoch, exactly as `Date.prototype.toISOString` writes it. */
export const isoTime = (ms: number): string => {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  const msOfDay = ms - days * DAY_MS;
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const h = Math.floor(msOfDay / 3_600_000);
  const min = Math.floor(msOfDay / 60_000) % 60;
  const s = Math.floor(msOfDay / 1000) % 60;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(h, 2)}:${pad(min, 2)}:${pad(s, 2)}.${pad(msOfDay % 1000, 3)}Z`;
};
