import { describe, expect, it } from 'vitest';
import { natsServers, redactUrl } from './nats.js';

describe('NATS URLs with credentials', () => {
  it('takes user and password (or a token) out of the URLs, as the client wants them', () => {
    expect(natsServers('nats://127.0.0.1:4222')).toEqual({ servers: ['nats://127.0.0.1:4222'] });
    expect(natsServers('nats://scs:s%40cret@10.0.0.1:4222, nats://10.0.0.2:4222')).toEqual({ servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'], user: 'scs', pass: 's@cret' });
    expect(natsServers('tls://t0ken@nats.example:4222')).toEqual({ servers: ['tls://nats.example:4222'], token: 't0ken' });
    expect(natsServers('scs:pw@127.0.0.1:4222')).toEqual({ servers: ['127.0.0.1:4222'], user: 'scs', pass: 'pw' });
  });

  it('never shows the credentials in logs or messages', () => {
    expect(redactUrl('nats://scs:secret@10.0.0.1:4222,nats://10.0.0.2:4222')).toBe('nats://***@10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(redactUrl('redis://:secret@127.0.0.1:6379')).toBe('redis://***@127.0.0.1:6379');
    expect(redactUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });
});
