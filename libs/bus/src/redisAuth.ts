import { readFileSync } from 'node:fs';

/**
 * A Redis URL with the password of a file put in (`--redis-password-file`, `HA_REDIS_PASSWORD_FILE`):
 * credentials then stay off the command line and out of the environment. The file holds the
 * password alone (one line, no blank in it), or lines `<user> <password>` (the `redis-passwords` that `hactl secure init`
 * writes), of which the URL's user's is taken (`scs` when the URL names none). A problem is thrown
 * as one line naming the file.
 */
export const withRedisPassword = (url: string, file: string, content: string = readPasswordFile(file)): string => {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--redis-password-file needs a redis:// or rediss:// URL with one host, not ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--redis-password-file needs a redis:// or rediss:// URL, not ${u.protocol}//`);
  const user = decodeURIComponent(u.username) || 'scs';
  const lines = content.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const pairs = lines.map((l) => /^(\S+)\s+(\S+)$/.exec(l));
  let password: string | undefined;
  if (lines.length === 1 && !pairs[0]) password = lines[0];
  else password = pairs.find((m) => m?.[1] === user)?.[2];
  if (!password) throw new Error(`${file}: no password for Redis user ${user}`);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
};

const readPasswordFile = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the Redis password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
};
