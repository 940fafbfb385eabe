import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AZURITE_DEV, type StoreCredentials, type VaultLocation } from '../../main/core/vault/stores.js';
import { stopChild } from './processes.js';

/** The repository (where node_modules holds the emulators), found upwards: this file is also bundled into dist/ for the bench. */
const repoRoot = ((): string => {
  for (let d = import.meta.dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules', 's3rver'))) return d;
    if (path.dirname(d) === d) throw new Error('cannot find the repository with node_modules/s3rver');
  }
})();

/**
 * Real object-storage emulators in child processes, on 127.0.0.1 and a free port, keeping their
 * data in a temporary folder: azurite (Azure Blob) and s3rver (S3). A test starts them, may stop
 * and restart them (same port, same data) to play a storage outage, and stops them at the end.
 */
export interface Emulator {
  readonly kind: 'azure' | 's3';
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  /** Where the emulator keeps its data. */
  readonly dir: string;
  readonly running: boolean;
  /** The server's process id while it runs (the bench reads its CPU time from /proc). */
  readonly pid: number | undefined;
  /** Stops the server gracefully (it saves its data) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it and removes its data folder. */
  dispose(): Promise<void>;
  /** A location in this emulator, e.g. location('vaults', 'team/a'). */
  location(container: string, prefix?: string): VaultLocation;
  /** Credentials the emulator accepts. */
  readonly credentials: StoreCredentials;
  /** The same credentials as the conventional environment variables (for child processes). */
  readonly env: Record<string, string>;
}

/** s3rver accepts this key pair (it checks the key id, not the signature). */
export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const LISTENING = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)|^listening (\d+)$/m;

/**
 * s3rver 3.7's store removes a key's parent folders once they are empty after a DELETE. That races
 * a PUT under the same prefix which has just made them: its write stream then fails with ENOENT
 * and, having no 'error' listener, ends the server (seen in CI with two installs' lock objects
 * under locks/). S3 has no folders and s3rver lists keys from files, so the empty folders are kept:
 * DELETE only unlinks the object's files. A crash still says why on stderr (the helper shows it).
 */
const S3RVER_MAIN = `
import { promises as fsp } from 'node:fs';
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';
FilesystemStore.prototype.deleteObject = async function (bucket, key) {
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((r) =>
    fsp.unlink(this.getResourcePath(bucket, key, r)).catch((e) => { if (e.code !== 'ENOENT') throw e; })));
};
process.on('uncaughtException', (e) => {
  process.stderr.write('s3rver crashed: ' + (e && e.stack || e) + '\\n');
  process.exit(70);
});
const server = new S3rver({ port: Number(process.env.S3RVER_PORT), address: '127.0.0.1', directory: process.env.S3RVER_DIR, silent: true });
const address = await server.run();
process.stdout.write('listening ' + address.port + '\\n');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Stops by itself when the test process that started it is gone (its end of stdin closes).
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
`;

/**
 * azurite's blob service, run in a process that also stops when its stdin closes (the test process
 * that started it is gone), like s3rver above: azurite has no such option, so this runs its own
 * entry (process.argv[1], with its options after it) and hands it SIGTERM, its graceful stop.
 */
const AZURITE_MAIN = `
const stop = () => {
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 10_000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
const orphaned = () => process.kill(process.pid, 'SIGTERM');
process.stdin.on('end', orphaned);
process.stdin.on('error', orphaned);
process.stdin.resume();
require(process.argv[1]);
`;

class ChildEmulator implements Emulator {
  private child: ChildProcess | undefined;
  port = 0;

  constructor(
    readonly kind: 'azure' | 's3',
    readonly dir: string,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get credentials(): StoreCredentials {
    return this.kind === 'azure' ? { azure: { accountName: AZURITE_DEV.account, accountKey: AZURITE_DEV.key } } : { s3: { ...S3RVER_KEY, region: 'us-east-1' } };
  }

  get env(): Record<string, string> {
    return this.kind === 'azure'
      ? { AZURE_STORAGE_ACCOUNT: AZURITE_DEV.account, AZURE_STORAGE_KEY: AZURITE_DEV.key }
      : { AWS_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey, AWS_REGION: 'us-east-1' };
  }

  location(container: string, prefix = ''): VaultLocation {
    return this.kind === 'azure'
      ? { kind: 'azure', url: `${this.endpoint}/${AZURITE_DEV.account}`, account: AZURITE_DEV.account, container, prefix }
      : { kind: 's3', bucket: container, prefix, endpoint: this.endpoint, region: 'us-east-1' };
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child =
      this.kind === 'azure'
        ? spawn(
            process.execPath,
            [
              '-e',
              AZURITE_MAIN,
              fs.realpathSync(path.join(repoRoot, 'node_modules/.bin/azurite-blob')),
              '--blobHost',
              '127.0.0.1',
              '--blobPort',
              String(this.port),
              '--location',
              this.dir,
              '--silent',
              '--disableTelemetry',
              '--skipApiVersionCheck',
              '--loose',
            ],
            // stdin stays open while this process lives: azurite stops when it closes.
            { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] },
          )
        : // s3rver's list continuation tokens use DES, which OpenSSL 3 only has in its legacy provider.
          spawn(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', S3RVER_MAIN], {
            cwd: repoRoot,
            env: { ...process.env, S3RVER_PORT: String(this.port), S3RVER_DIR: this.dir },
            // stdin stays open while this process lives: s3rver stops when it closes.
            stdio: ['pipe', 'pipe', 'pipe'],
          });
    this.child = child;
    let out = '';
    let err = '';
    const errText = (): string => err || out;
    child.stdout!.on('data', (d: Buffer) => (out = tail(out + d.toString())));
    child.stderr!.on('data', (d: Buffer) => (err = tail(err + d.toString())));
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.kind} emulator did not start within 30 s: ${out}${err}`)), 30_000);
      child.stdout!.on('data', () => {
        const m = LISTENING.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1] ?? m[2]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.kind} emulator exited (${code}) before listening: ${out}${err}`));
      });
    }).catch((e: unknown) => {
      this.child = undefined;
      child.kill('SIGKILL');
      throw e;
    });
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      // Not stopped by stop(): the tests that follow would only see ECONNREFUSED. Say why it ended.
      console.error(`${this.kind} emulator on port ${this.port} exited by itself (${signal ?? `code ${code}`}): ${tail(errText())}`);
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined; // stopped on purpose: its exit is not reported
    await stopChild(child, 20_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The last 4 KiB of an emulator's output (what it said before it ended). */
const tail = (s: string): string => (s.length > 4096 ? s.slice(-4096) : s);

async function startEmulator(kind: 'azure' | 's3'): Promise<Emulator> {
  const em = new ChildEmulator(kind, fs.mkdtempSync(path.join(os.tmpdir(), `coffer-${kind}-`)));
  await em.start();
  return em;
}

/** azurite's blob service; its account is devstoreaccount1 with the well-known key. */
export const startAzurite = (): Promise<Emulator> => startEmulator('azure');
/** s3rver; it accepts the S3RVER key pair and ignores If-None-Match on writes. */
export const startS3rver = (): Promise<Emulator> => startEmulator('s3');
