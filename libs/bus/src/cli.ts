/** Minimal flag parsing shared by the bins: `--name value`, `--flag`, `--help`; unknown flags fail. */
export type FlagSpec = Readonly<Record<string, { value: boolean; help: string; env?: string; default?: string }>>;

export class UsageError extends Error {}

export type ParsedArgs = {
  flags: Record<string, string | true>;
  positional: string[];
  help: boolean;
  /** Flags given neither on the command line nor by their environment variable: their default is used. */
  defaulted: string[];
};

export const parseArgs = (argv: readonly string[], spec: FlagSpec): ParsedArgs => {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown flag --${name}`);
    if (!s.value) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined || v === '') throw new UsageError(`--${name} needs a value`);
    flags[name] = v;
  }
  const defaulted: string[] = [];
  for (const [name, s] of Object.entries(spec)) {
    if (flags[name] !== undefined) continue;
    const fromEnv = s.env ? process.env[s.env] : undefined;
    if (fromEnv) flags[name] = fromEnv;
    else if (s.default !== undefined) {
      flags[name] = s.default;
      defaulted.push(name);
    }
  }
  return { flags, positional, help, defaulted };
};

export const usage = (synopsis: string, about: string, spec: FlagSpec): string => {
  const rows = Object.entries(spec).map(([name, s]) => {
    const left = `  --${name}${s.value ? ' <value>' : ''}`;
    const extra = [s.env ? `env ${s.env}` : '', s.default !== undefined ? `default ${s.default}` : '']
      .filter(Boolean)
      .join(', ');
    return `${left.padEnd(26)} ${s.help}${extra ? ` (${extra})` : ''}`;
  });
  return `usage: ${synopsis}\n\n${about}\n\noptions:\n${rows.join('\n')}\n  --help                     this text\n`;
};

/** Runs a bin's main: usage errors and config errors end with one line and exit code 2. */
export const runMain = (name: string, main: () => Promise<void>): void => {
  main().catch((e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(2);
  });
};

export const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * One line for each broker URL the bin uses only because none was given (an LCA started without
 * HA_NATS_URL silently used nats://127.0.0.1:4222): which URL, and how to give another.
 */
export const defaultUrlNotes = (args: ParsedArgs, spec: FlagSpec, names: readonly string[]): string[] =>
  names.flatMap((name) => {
    const s = spec[name];
    if (!s || !args.defaulted.includes(name) || s.default === undefined) return [];
    return [`no --${name}${s.env ? ` or ${s.env}` : ''} given: using the default ${s.default}`];
  });
