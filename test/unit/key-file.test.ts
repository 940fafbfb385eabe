import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCofferError } from '../../main/core/errors.js';
import { readKeyFile } from '../../main/core/key-file.js';

// POSIX mode bits decide whether a key file is private; on Windows they mean nothing (every file
// shows 0666 or 0444), so the check must not refuse every key file there.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-keyfile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, mode: number): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, 'correct horse battery\r\nsecond line ignored\n');
  fs.chmodSync(f, mode);
  return f;
}

describe('key file permission check', () => {
  it('on POSIX refuses a file others can read, with chmod 600 as the remedy, and reads a private one', () => {
    const loose = keyFile('loose.key', 0o644);
    const e = (() => {
      try {
        return readKeyFile(loose, 'linux');
      } catch (x) {
        return x;
      }
    })();
    expect(isCofferError(e, 'KeyFileNotPrivate')).toBe(true);
    expect((e as { remedy?: string }).remedy).toContain(`chmod 600 ${loose}`);
    expect((e as { details?: unknown }).details).toMatchObject({ keyFile: loose, field: 'keyFile', mode: '644', command: `chmod 600 ${loose}` });
    expect(readKeyFile(keyFile('tight.key', 0o600), 'linux')).toBe('correct horse battery');
  });

  it('on Windows does not fail on mode bits: it reads the file and warns that the ACL is not checked', async () => {
    const f = keyFile('windows.key', 0o666);
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    expect(readKeyFile(f, 'win32')).toBe('correct horse battery');
    expect((await warned).message).toMatch(/cannot check who may read the key file .* on Windows/);
  });

  it('refuses a missing file, a folder and a file without a passphrase on its first line as unreadable', () => {
    const codeOf = (f: string) => {
      try {
        readKeyFile(f, 'linux');
        return 'read';
      } catch (x) {
        return isCofferError(x) ? x.code : 'other';
      }
    };
    expect(codeOf(path.join(dir, 'absent.key'))).toBe('KeyFileUnreadable');
    expect(codeOf(dir)).toBe('KeyFileUnreadable');
    const empty = path.join(dir, 'empty.key');
    fs.writeFileSync(empty, '\nsecond line\n', { mode: 0o600 });
    expect(codeOf(empty)).toBe('KeyFileUnreadable');
  });
});
