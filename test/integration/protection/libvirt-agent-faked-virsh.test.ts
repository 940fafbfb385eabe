import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrap } from '../../helpers/cli.js';
import { discoverRegisterProtect, useEngines } from '../../helpers/engine.js';
import { useTmp } from '../../helpers/tmp.js';

/*
 * FAKED HYPERVISOR. No guest agent can answer on this machine (no KVM), so this test puts a fake
 * `virsh` first on PATH: a script with recorded replies of a running domain whose guest agent is
 * connected and accepts `snapshot-create-as --quiesce`. It proves what Coffer records when the
 * agent froze the filesystems; the real snapshot path is covered by libvirt-live-snapshot.test.ts
 * and live-backup.test.ts where KVM runs.
 */
const UUID = 'f0000000-0000-4000-8000-00000000a9e7';
const tmp = useTmp();
let binDir: string;
let workDir: string;
let disk: string;
const oldPath = process.env.PATH;

const fakeVirsh = (state: string, log: string, diskPath: string) => `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const cmd = args[2];
const has = (a) => args.includes(a);
const overlay = fs.existsSync(${JSON.stringify(state)}) ? fs.readFileSync(${JSON.stringify(state)}, 'utf8') : '';
const out = (s) => { process.stdout.write(s + '\\n'); process.exit(0); };
if (cmd === 'version') out('Running hypervisor: fake 1.0');
if (cmd === 'list') out(has('--state-running') || (!has('--state-paused') && !has('--state-shutoff') && !has('--state-other') && !has('--with-managed-save')) ? '${UUID}' : '');
if (cmd === 'domstate') out('running');
if (cmd === 'dominfo') out('Id:             1\\nName:           app01\\nUUID:           ${UUID}\\nOS Type:        hvm\\nState:          running');
if (cmd === 'dumpxml') out("<domain type='kvm'><name>app01</name><uuid>${UUID}</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${'${'}DISK}'/><target dev='vda' bus='virtio'/></disk><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel></devices></domain>".replace('${'${'}DISK}', ${JSON.stringify(diskPath)}));
if (cmd === 'domblklist') out(' Type   Device   Target   Source\\n----------------------------------\\n file   disk     vda      ' + (overlay || ${JSON.stringify(diskPath)}));
if (cmd === 'snapshot-create-as') {
  if (!has('--quiesce')) { process.stderr.write('error: the fake expects a quiesced snapshot\\n'); process.exit(1); }
  const spec = args[args.indexOf('--diskspec') + 1];
  fs.writeFileSync(${JSON.stringify(state)}, spec.split('file=')[1]);
  out('Domain snapshot created');
}
if (cmd === 'blockcommit') { fs.rmSync(${JSON.stringify(state)}, { force: true }); out('Successfully pivoted'); }
process.stderr.write('error: the fake virsh has no reply for ' + args.join(' ') + '\\n');
process.exit(1);
`;

beforeAll(() => {
  binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-fake-virsh-'));
});
afterAll(() => {
  process.env.PATH = oldPath;
  fs.rmSync(binDir, { recursive: true, force: true });
});

const open = useEngines();

describe('live backup when the guest agent froze the filesystems (faked virsh replies)', () => {
  it('[faked virsh] records the point as filesystem-consistent, with no GuestAgentUnavailable warning, addressing the domain by UUID', async () => {
    workDir = tmp();
    disk = path.join(workDir, 'app01.img');
    fs.writeFileSync(disk, randomBytes(256 * 1024));
    const log = path.join(workDir, 'virsh-calls.log');
    fs.writeFileSync(path.join(binDir, 'virsh'), fakeVirsh(path.join(workDir, 'overlay.state'), log, disk), { mode: 0o755 });
    process.env.PATH = `${binDir}${path.delimiter}${oldPath ?? ''}`;

    const installed = open(path.join(workDir, 'data'));
    const { engine, router } = installed;
    unwrap(await router.invoke('createVault', { name: 'vault-a', region: 'r1', path: path.join(workDir, 'vault'), passphrase: 'correct horse battery' }));
    unwrap(await router.invoke('addSource', { kind: 'libvirt', target: 'qemu:///system', region: 'r1', name: 'kvm' }));
    await discoverRegisterProtect(installed, 'vault-a', ['app01']);

    const [job] = unwrap(await router.invoke('backupNow', { vms: ['app01'] }));
    const ended = await engine.jobs.wait(job!.id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('Completed');
    expect(ended.warnings).toEqual([]);
    const [point] = unwrap(await router.invoke('listPoints', { vm: 'app01' }));
    expect(point!.consistency).toBe('filesystem');
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
    const snapshot = calls.find((c) => c[2] === 'snapshot-create-as')!;
    expect(snapshot).toContain('--quiesce');
    expect(snapshot[snapshot.indexOf('--domain') + 1]).toBe(UUID);
  });
});
