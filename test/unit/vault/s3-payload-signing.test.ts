import { describe, expect, it } from 'vitest';
import { unsignedPayloadAllowed } from '../../../main/core/vault/s3-store.js';

describe('S3 payload signing per endpoint', () => {
  it('leaves pack bodies unhashed over https and on the loopback interface', () => {
    expect(unsignedPayloadAllowed('https://s3.eu-west-1.amazonaws.com')).toBe(true);
    expect(unsignedPayloadAllowed('https://minio.example.org:9000')).toBe(true);
    expect(unsignedPayloadAllowed('http://127.0.0.1:4568')).toBe(true);
    expect(unsignedPayloadAllowed('http://127.10.0.3:4568')).toBe(true);
    expect(unsignedPayloadAllowed('http://localhost:9000')).toBe(true);
    expect(unsignedPayloadAllowed('http://[::1]:9000')).toBe(true);
  });

  it('hashes and signs bodies over plain http to any other host', () => {
    expect(unsignedPayloadAllowed('http://s3.eu-west-1.amazonaws.com')).toBe(false);
    expect(unsignedPayloadAllowed('http://192.168.1.20:9000')).toBe(false);
    expect(unsignedPayloadAllowed('http://127.0.0.1.example.org')).toBe(false);
    expect(unsignedPayloadAllowed('http://localhost.example.org')).toBe(false);
    expect(unsignedPayloadAllowed('not a url')).toBe(false);
  });
});
