import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HOST_PROOF_LABEL } from '../../preload/wire.js';
import { processAlive } from '../core/process-alive.js';

/** What a running host (`coffer serve`) tells CLI processes on the same data folder. */
export interface HostInfo {
  pid: number;
  port: number;
  token: string;
}

const FILE = 'host.json';

/** Written 0600 into the data folder: the token is as secret as the catalog itself. */
export function writeHostFile(dataDir: string, info: HostInfo): () => void {
  const file = path.join(dataDir, FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return () => {
    // Only remove our own file: a newer host may have replaced it.
    if (readHostFile(dataDir)?.pid === info.pid) fs.rmSync(file, { force: true });
  };
}

/** The live host of this data folder, or undefined (a file left by a dead process is ignored). */
export function readHostFile(dataDir: string): HostInfo | undefined {
  let info: HostInfo;
  try {
    info = JSON.parse(fs.readFileSync(path.join(dataDir, FILE), 'utf8')) as HostInfo;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(info.pid) || !Number.isInteger(info.port) || typeof info.token !== 'string') return undefined;
  return processAlive(info.pid) ? info : undefined;
}

/**
 * HMAC-SHA256(token, label + nonce): how a host proves to a CLI that it is the one that wrote
 * host.json. Only the owner of the data folder can read the token there (0600).
 */
export function hostProof(token: string, nonce: string): string {
  return createHmac('sha256', token).update(HOST_PROOF_LABEL + nonce).digest('base64url');
}
