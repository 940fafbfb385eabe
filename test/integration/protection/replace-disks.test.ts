import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unwrap } from '../../helpers/cli.js';
import { discoverRegisterProtect, useEngines } from '../../helpers/engine.js';
import { useTmp } from '../../helpers/tmp.js';

/* Restore over a VM's own disks (--replace-disks) and the modes of restored files, on real files. */
const tmp = useTmp();
const open = useEngines();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const write = (f: string, bytes = 160 * 1024) => {
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, randomBytes(bytes));
};
const domainXml = (name: string, uuid: string, files: string[], extra = '') =>
  `<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os><devices>${files
    .map((f, i) => `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${f}'/><target dev='vd${'abcdef'[i]}' bus='virtio'/></disk>`)
    .join('')}</devices>${extra}</domain>`;

/** A vault and a source (folder root, or a libvirt test-driver node file); the VM discovered, registered, protected, backed up once. */
async function protectedVm(dir: string, source: { kind: 'folder'; target: string } | { kind: 'libvirt'; target: string }, vm: string) {
  const installed = open(path.join(dir, 'data'));
  const { engine, router } = installed;
  unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(dir, 'vault'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('addSource', { ...source, region: 'r1', name: 'src' }));
  await discoverRegisterProtect(installed, 'vault-a', [vm]);
  const [backup] = unwrap(await router.invoke('backupNow', { vms: [vm] }));
  const done = await engine.jobs.wait(backup!.id);
  expect(done.status, JSON.stringify(done.error)).toBe('Completed');
  const [point] = unwrap(await router.invoke('listPoints', { vm }));
  const replace = async () => {
    const r = await router.invoke('restorePoint', { vm, pointId: point!.id, mode: 'replaceDisks' });
    return r.ok ? engine.jobs.wait(r.value.id) : Promise.resolve({ status: 'Refused' as const, error: r.error });
  };
  return { engine, router, point: point!, replace };
}

describe('--replace-disks', () => {
  it('puts each disk back at the path the point recorded, not by file name, after the definition reordered them', async () => {
    const dir = tmp();
    const vmDir = path.join(dir, 'src', 'rack');
    const a = path.join(vmDir, 'a', 'disk.img');
    const b = path.join(vmDir, 'b', 'disk.img');
    write(a);
    write(b);
    const xml = path.join(vmDir, 'twin.xml');
    fs.writeFileSync(xml, domainXml('twin', 'd0000000-0000-4000-8000-000000000001', ['a/disk.img', 'b/disk.img']));
    const { engine, router, replace } = await protectedVm(dir, { kind: 'folder', target: path.join(dir, 'src') }, 'twin');
    const [aThen, bThen] = [sha(a), sha(b)];
    write(a);
    write(b);
    fs.writeFileSync(xml, domainXml('twin', 'd0000000-0000-4000-8000-000000000001', ['b/disk.img', 'a/disk.img']));
    await engine.jobs.wait(unwrap(await router.invoke('discoverVms', { vault: 'vault-a' })).id);
    const ended = await replace();
    expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
    expect([sha(a), sha(b)]).toEqual([aThen, bThen]);
  });

  it('refuses with DiskInUse naming the process while one holds a disk open, and changes nothing', async () => {
    const dir = tmp();
    const disk = path.join(dir, 'src', 'rack', 'busy.img');
    write(disk);
    fs.writeFileSync(path.join(dir, 'src', 'rack', 'busy.xml'), domainXml('busy', 'd0000000-0000-4000-8000-000000000002', ['busy.img']));
    const { replace } = await protectedVm(dir, { kind: 'folder', target: path.join(dir, 'src') }, 'busy');
    write(disk);
    const now = sha(disk);
    // A real process with the disk open, as a hypervisor running the VM from a folder would have.
    const fd = fs.openSync(disk, 'r+');
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    children.push(child);
    fs.closeSync(fd);
    await new Promise<void>((resolve) => child.once('spawn', () => resolve()));
    const ended = await replace();
    expect(ended.status).toBe('Failed');
    expect(ended.error).toMatchObject({ code: 'DiskInUse', message: expect.stringContaining(`pid ${child.pid}`), remedy: expect.any(String) });
    expect(sha(disk)).toBe(now);
    expect(fs.readdirSync(path.dirname(disk)).filter((f) => f.includes('coffer-'))).toEqual([]);
  });

  it('keeps the original owner and mode of each replaced disk', async () => {
    const dir = tmp();
    const disk = path.join(dir, 'src', 'rack', 'moded.img');
    write(disk);
    fs.writeFileSync(path.join(dir, 'src', 'rack', 'moded.xml'), domainXml('moded', 'd0000000-0000-4000-8000-000000000003', ['moded.img']));
    const { replace } = await protectedVm(dir, { kind: 'folder', target: path.join(dir, 'src') }, 'moded');
    fs.chmodSync(disk, 0o640);
    const uid = process.getuid?.() === 0 ? 4242 : undefined;
    if (uid !== undefined) fs.chownSync(disk, uid, 4243);
    expect((await replace()).status).toBe('Completed');
    const st = fs.statSync(disk);
    expect(st.mode & 0o777).toBe(0o640);
    if (uid !== undefined) expect([st.uid, st.gid]).toEqual([4242, 4243]);
  });
});

describe('--replace-disks on a libvirt domain (real virsh, test driver)', () => {
  it('asks the hypervisor right before replacing: a domain started since the scan is refused with VmRunning', async () => {
    const dir = tmp();
    const disk = path.join(dir, 'disks', 'db.img');
    write(disk);
    const node = path.join(dir, 'host.xml');
    const uuid = 'd0000000-0000-4000-8000-000000000004';
    fs.writeFileSync(node, `<node>${domainXml('db', uuid, [disk], '<test:runstate>5</test:runstate>')}</node>`);
    const { engine, replace } = await protectedVm(dir, { kind: 'libvirt', target: `test://${node}` }, 'db');
    expect(engine.inventory.allVms()[0]!.powerState).toBe('off');
    // Started after the last scan: the catalog still says off.
    fs.writeFileSync(node, `<node>${domainXml('db', uuid, [disk])}</node>`);
    write(disk);
    const now = sha(disk);
    const ended = await replace();
    expect(ended.status).toBe('Failed');
    expect(ended.error).toMatchObject({ code: 'VmRunning', message: expect.stringContaining('running') });
    expect(sha(disk)).toBe(now);
  });

  it('stages each disk on its own filesystem: disks on two filesystems are both replaced, no EXDEV half-replace', async (t) => {
    const dir = tmp();
    const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/coffer-test-') : undefined;
    if (!shm || fs.statSync(shm).dev === fs.statSync(dir).dev) {
      if (shm) fs.rmSync(shm, { recursive: true, force: true });
      t.skip('needs /dev/shm on another filesystem than the temp folder');
      return;
    }
    try {
      const one = path.join(dir, 'disks', 'one.img');
      const two = path.join(shm, 'two.img');
      write(one);
      write(two);
      const node = path.join(dir, 'host.xml');
      fs.writeFileSync(node, `<node>${domainXml('split', 'd0000000-0000-4000-8000-000000000005', [one, two], '<test:runstate>5</test:runstate>')}</node>`);
      const { replace } = await protectedVm(dir, { kind: 'libvirt', target: `test://${node}` }, 'split');
      const [oneThen, twoThen] = [sha(one), sha(two)];
      write(one);
      write(two);
      const ended = await replace();
      expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
      expect([sha(one), sha(two)]).toEqual([oneThen, twoThen]);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });
});

describe('restore to a folder', () => {
  it('creates the folder 0700 and the restored files 0600, whatever the umask', async () => {
    const dir = tmp();
    const disk = path.join(dir, 'src', 'rack', 'priv.img');
    write(disk);
    fs.chmodSync(disk, 0o644);
    fs.writeFileSync(path.join(dir, 'src', 'rack', 'priv.xml'), domainXml('priv', 'd0000000-0000-4000-8000-000000000006', ['priv.img']));
    const { engine, router, point } = await protectedVm(dir, { kind: 'folder', target: path.join(dir, 'src') }, 'priv');
    const target = path.join(dir, 'out', 'restored');
    const job = unwrap(await router.invoke('restorePoint', { vm: 'priv', pointId: point.id, mode: 'disks', targetDir: target }));
    expect((await engine.jobs.wait(job.id)).status).toBe('Completed');
    expect(fs.statSync(target).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(target).sort()).toEqual(['priv.img', 'priv.xml']);
    for (const f of fs.readdirSync(target)) expect((fs.statSync(path.join(target, f)).mode & 0o777).toString(8)).toBe('600');
  });
});
