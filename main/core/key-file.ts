// The key-file rules, in one place: which file Coffer accepts as holding a vault's passphrase for
// unattended unlocking (scheduled backups after a restart on a host without an OS keychain).
import * as fs from 'node:fs';
import { CofferError } from './errors.js';

/**
 * The passphrase on the first line of a key file. A key file must belong to this user and be
 * unreadable by others, like an ssh key; otherwise `KeyFileNotPrivate` with the command that fixes
 * it (`details.command`). On Windows the POSIX mode bits say nothing (a file shows 0666 or 0444
 * whatever its ACL), and who may read it is its ACL, which Node cannot read: there the check is not
 * made, and a warning says to restrict the ACL by hand (icacls FILE /inheritance:r /grant:r "%USERNAME%:R").
 */
export function readKeyFile(file: string, platform: NodeJS.Platform = process.platform): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw unreadable(file, `The key file ${file} cannot be read: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw unreadable(file, `${file} is not a file.`);
  if (platform === 'win32') {
    warnOnce(file, `Coffer cannot check who may read the key file ${file} on Windows: make sure its ACL grants only the service user (icacls).`);
  } else {
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const mode = (st.mode & 0o777).toString(8);
    if (uid !== undefined && st.uid !== uid) {
      const command = `chown ${uid} ${file} && chmod 600 ${file}`;
      throw new CofferError('KeyFileNotPrivate', `The key file ${file} belongs to another user (uid ${st.uid}, not ${uid}).`, { keyFile: file, field: 'keyFile', mode, command },
        `Make it belong to the user Coffer runs as and private to it: ${command}`);
    }
    if ((st.mode & 0o077) !== 0) {
      const command = `chmod 600 ${file}`;
      throw new CofferError('KeyFileNotPrivate', `The key file ${file} is readable by other users (mode ${mode}).`, { keyFile: file, field: 'keyFile', mode, command },
        `Make it private to the service user: ${command}`);
    }
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw unreadable(file, `The key file ${file} cannot be read: ${(e as Error).message}`);
  }
  const passphrase = (text.split(/\r?\n/)[0] ?? '').trim();
  if (passphrase === '') throw unreadable(file, `The key file ${file} holds no passphrase on its first line.`);
  return passphrase;
}

function unreadable(file: string, message: string): CofferError {
  return new CofferError('KeyFileUnreadable', message, { keyFile: file, field: 'keyFile' });
}

const warnedKeyFiles = new Set<string>();
function warnOnce(file: string, message: string): void {
  if (warnedKeyFiles.has(file)) return;
  warnedKeyFiles.add(file);
  process.emitWarning(message, { code: 'COFFER_KEY_FILE_UNCHECKED' });
}
