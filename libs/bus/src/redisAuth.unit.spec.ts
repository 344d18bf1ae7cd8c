import { describe, expect, it } from 'vitest';
import { withRedisPassword } from './redisAuth.js';

describe('withRedisPassword', () => {
  it('puts a password file alone into the URL, user scs unless the URL names one', () => {
    expect(withRedisPassword('redis://127.0.0.1:6379', 'f', 's3cret\n')).toBe('redis://scs:s3cret@127.0.0.1:6379');
    expect(withRedisPassword('rediss://ha@r.example:6380/0', 'f', 'p@ss/word?\n')).toBe('rediss://ha:p%40ss%2Fword%3F@r.example:6380/0');
  });
  it('takes the URL user\'s line of a redis-passwords file (hactl secure init)', () => {
    const file = 'scs aaa111\nadmin bbb222\n';
    expect(withRedisPassword('redis://127.0.0.1:6379', 'f', file)).toBe('redis://scs:aaa111@127.0.0.1:6379');
    expect(withRedisPassword('redis://admin@127.0.0.1:6379', 'f', file)).toBe('redis://admin:bbb222@127.0.0.1:6379');
  });
  it('says which file and which user when it cannot', () => {
    expect(() => withRedisPassword('redis://nobody@h:1', '/etc/ha/pw', 'scs aaa\n')).toThrow('/etc/ha/pw: no password for Redis user nobody');
    expect(() => withRedisPassword('redis://h:1', '/etc/ha/pw', '\n')).toThrow('/etc/ha/pw: no password for Redis user scs');
    expect(() => withRedisPassword('redis://h:1', '/nonexistent/pw')).toThrow('cannot read the Redis password file /nonexistent/pw: ENOENT');
    expect(() => withRedisPassword('redis+sentinel://a:1,b:2/m', 'f', 'x')).toThrow(/redis:\/\/ or rediss:\/\//);
  });
});
