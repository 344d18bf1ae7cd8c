import { afterEach, describe, expect, it } from 'vitest';
import { defaultUrlNotes, parseArgs, type FlagSpec } from './cli.js';

const spec: FlagSpec = {
  nats: { value: true, help: 'NATS', env: 'HA_TEST_NATS_URL', default: 'nats://127.0.0.1:4222' },
  redis: { value: true, help: 'Redis', env: 'HA_TEST_REDIS_URL', default: 'redis://127.0.0.1:6379' },
};

describe('broker URLs used only because none was given', () => {
  afterEach(() => {
    delete process.env['HA_TEST_NATS_URL'];
  });

  it('are named, one line each, with how to give another', () => {
    expect(defaultUrlNotes(parseArgs([], spec), spec, ['nats', 'redis'])).toEqual([
      'no --nats or HA_TEST_NATS_URL given: using the default nats://127.0.0.1:4222',
      'no --redis or HA_TEST_REDIS_URL given: using the default redis://127.0.0.1:6379',
    ]);
  });

  it('are not when given by flag or environment', () => {
    expect(defaultUrlNotes(parseArgs(['--nats', 'nats://x:1'], spec), spec, ['nats'])).toEqual([]);
    process.env['HA_TEST_NATS_URL'] = 'nats://y:2';
    expect(defaultUrlNotes(parseArgs([], spec), spec, ['nats'])).toEqual([]);
  });
});
