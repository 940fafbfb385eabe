import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';
import { NONCE_LEN, TAG_LEN } from './format.js';

/**
 * Sealed blob: nonce(12) || AES-256-GCM ciphertext || tag(16). The AAD binds a blob to what it
 * claims to be (a chunk id, "index:<pack>", "point:<id>"), so blobs cannot be swapped unnoticed.
 */
export function seal(key: Buffer, plain: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_LEN);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const body = c.update(plain);
  c.final();
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

/** Inverse of seal; throws ChunkCorrupt when authentication fails. */
export function open(key: Buffer, blob: Uint8Array, aad: Uint8Array, what = 'object'): Buffer {
  if (blob.length < NONCE_LEN + TAG_LEN) throw new CofferError('ChunkCorrupt', `The ${what} is truncated.`);
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, NONCE_LEN));
  d.setAAD(aad);
  d.setAuthTag(b.subarray(b.length - TAG_LEN));
  try {
    const out = d.update(b.subarray(NONCE_LEN, b.length - TAG_LEN));
    d.final();
    return out;
  } catch {
    throw new CofferError('ChunkCorrupt', `The ${what} failed its integrity check.`);
  }
}

/** Chunk id = HMAC-SHA256(macKey, SHA-256(plaintext)): keyed, and the inner digest serves the disk digest. */
export function chunkIdFromDigest(macKey: Buffer, digest: Uint8Array): Buffer {
  return createHmac('sha256', macKey).update(digest).digest();
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}
