import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { validateConfig, type ClusterConfig } from '@ha/events';

export class ConfigError extends Error {}

/** Reads and validates a cluster file (YAML or JSON); the error names the file and the bad fields. */
export const loadConfigFile = async (path: string): Promise<ClusterConfig> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = validateConfig(raw);
  if (!r.ok) throw new ConfigError(`config ${path}: ${r.errors.join('; ')}`);
  return r.config;
};
