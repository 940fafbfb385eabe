import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vm } from '../../preload/contract.js';
import type { Engine } from '../../main/core/engine.js';
import type { Router } from '../../main/rpc/router.js';
import { cofferIn, errorOf, unwrap } from '../helpers/cli.js';
import { useEngines } from '../helpers/engine.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
const open = useEngines();

let uuidSeq = 0;
/** A libvirt domain definition with one raw disk beside it, as a folder source holds them. */
function libvirtVm(dir: string, name: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const uuid = `6d1a2b3c-0000-4000-8000-${String(++uuidSeq).padStart(12, '0')}`;
  fs.writeFileSync(path.join(dir, `${name}.img`), Buffer.alloc(64 * 1024, uuidSeq));
  fs.writeFileSync(
    path.join(dir, `${name}.xml`),
    `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>256</memory>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${name}.img'/><target dev='vda' bus='virtio'/></disk></devices>
    </domain>`,
  );
}


async function setup() {
  const dir = tmp();
  const ams = path.join(dir, 'ams');
  libvirtVm(path.join(ams, 'web-tier'), 'web01');
  libvirtVm(path.join(ams, 'shop'), 'web01');
  libvirtVm(path.join(ams, 'shop'), 'db01');
  const rtm = path.join(dir, 'rtm');
  libvirtVm(path.join(rtm, 'lab'), 'other01');
  const data = path.join(dir, 'data');
  const { engine, router } = open(data);
  unwrap(await router.invoke('addSource', { kind: 'folder', target: ams, region: 'lab-amsterdam', name: 'ams-disks' }));
  unwrap(await router.invoke('addSource', { kind: 'folder', target: rtm, region: 'lab-rotterdam', name: 'rtm-disks' }));
  unwrap(await router.invoke('createVault', { name: 'vault-ams', region: 'lab-amsterdam', path: path.join(dir, 'v1'), passphrase: 'correct horse battery' }));
  unwrap(await router.invoke('createVault', { name: 'vault-ams2', region: 'lab-amsterdam', path: path.join(dir, 'v2'), passphrase: 'correct horse battery' }));
  return { dir, ams, rtm, data, engine, router };
}

async function discover(router: Router, engine: Engine, vault: string, status = 'Completed') {
  const job = unwrap(await router.invoke('discoverVms', { vault }));
  const done = await engine.jobs.wait(job.id);
  expect(done.status).toBe(status);
  if (status === 'CompletedWithWarnings') expect(done.warnings.map((w) => w.code)).toContain('SourceUnreachable');
  return unwrap(await router.invoke('discoveryResult', { vault }));
}

const names = (vms: Vm[]) => vms.map((v) => `${v.cloudService}/${v.name}`).sort();

describe('discovery and registration through the API', () => {
  it('lists only VMs of the vault region that no vault holds, and says why the others are not listed', async () => {
    const { router, engine } = await setup();
    const first = unwrap(await router.invoke('discoverVms', { vault: 'vault-ams' }));
    expect(errorOf(await router.invoke('discoverVms', { vault: 'vault-ams' })).code).toBe('DiscoveryInProgress');
    await engine.jobs.wait(first.id);

    const r = unwrap(await router.invoke('discoveryResult', { vault: 'vault-ams' }));
    expect(names(r.candidates)).toEqual(['shop/db01', 'shop/web01', 'web-tier/web01']);
    expect(r.excluded.map((e) => [e.vm.name, e.reason])).toEqual([['other01', 'OtherRegion']]);
    expect(r.job?.summary).toEqual({ code: 'DiscoveryFound', params: { count: 3, region: 'lab-amsterdam' } });
    const web = r.candidates.find((v) => v.cloudService === 'web-tier')!;
    expect(web.disks).toEqual([expect.objectContaining({ name: 'vda', format: 'raw', exists: true, role: 'disk' })]);
  });

  it('registers several VMs with one job each and enforces the rules with stable codes', async () => {
    const { router, engine } = await setup();
    await discover(router, engine, 'vault-ams');

    const ambiguous = errorOf(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['web01'] }));
    expect(ambiguous.code).toBe('VmAmbiguous');
    expect(ambiguous.message).toContain('shop/web01');
    expect(ambiguous.message).toContain('web-tier/web01');
    expect(errorOf(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['ghost'] })).code).toBe('VmNotFound');
    const region = errorOf(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['shop/db01', 'other01'] }));
    expect(region.code).toBe('VmNotInVaultRegion');
    // A refused call registers nothing, not even the valid VM named with it.
    expect(unwrap(await router.invoke('listVms', { vault: 'vault-ams' }))).toEqual([]);

    const jobs = unwrap(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['shop/web01', 'shop/db01'] }));
    expect(jobs.map((j) => j.operation)).toEqual(['Register', 'Register']);
    const during = unwrap(await router.invoke('listVms', { vault: 'vault-ams' }));
    expect(during.map((v) => v.registrationState)).toEqual(['Registering', 'Registering']);
    for (const j of jobs) expect((await engine.jobs.wait(j.id)).status).toBe('Completed');
    const after = unwrap(await router.invoke('listVms', { vault: 'vault-ams' }));
    expect(after.map((v) => [v.cloudService, v.name, v.registrationState])).toEqual([
      ['shop', 'db01', 'Registered'],
      ['shop', 'web01', 'Registered'],
    ]);

    const taken = errorOf(await router.invoke('registerVms', { vault: 'vault-ams2', vms: ['shop/web01'] }));
    expect(taken.code).toBe('VmAlreadyRegistered');
    expect(taken.message).toContain('vault-ams');
    const again = await discover(router, engine, 'vault-ams2');
    expect(names(again.candidates)).toEqual(['web-tier/web01']);
    expect(again.excluded.filter((e) => e.reason === 'AlreadyRegistered').map((e) => e.detail)).toEqual([
      'registered to vault vault-ams',
      'registered to vault vault-ams',
    ]);

    const vaultWithVms = errorOf(await router.invoke('deleteVault', { name: 'vault-ams' }));
    expect(vaultWithVms.code).toBe('VaultHasRegisteredItems');
  });

  it('refuses to unregister a protected VM, unregisters others, and keeps registrations across restarts', async () => {
    const { router, engine, data, ams } = await setup();
    await discover(router, engine, 'vault-ams');
    for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['shop/web01', 'shop/db01'] }))) await engine.jobs.wait(j.id);

    engine.db.prepare("UPDATE vms SET protection_state = 'Protected' WHERE name = 'db01'").run();
    expect(errorOf(await router.invoke('unregisterVms', { vault: 'vault-ams', vms: ['db01'] })).code).toBe('VmIsProtected');

    // The VM's files vanish: a new discovery marks it missing but keeps the registration.
    fs.rmSync(path.join(ams, 'shop', 'web01.xml'));
    await discover(router, engine, 'vault-ams');
    await engine.close();

    const { engine: reopened, router: r2 } = open(data);
    const vms = unwrap(await r2.invoke('listVms', { vault: 'vault-ams' }));
    expect(vms.map((v) => [v.name, v.registrationState, v.missing])).toEqual([
      ['db01', 'Registered', false],
      ['web01', 'Registered', true],
    ]);
    const [job] = unwrap(await r2.invoke('unregisterVms', { vault: 'vault-ams', vms: ['shop/web01'] }));
    expect((await reopened.jobs.wait(job!.id)).status).toBe('Completed');
    expect(unwrap(await r2.invoke('listVms', { vault: 'vault-ams' })).map((v) => v.name)).toEqual(['db01']);
    const filtered = unwrap(await r2.invoke('listJobs', { operation: ['Unregister'], vm: 'db01' }));
    expect(filtered.jobs).toEqual([]);
  });

  it('manages sources: duplicate names refused, region edits blocked while VMs are registered, removal', async () => {
    const { router, engine, dir } = await setup();
    expect(errorOf(await router.invoke('addSource', { kind: 'folder', target: dir, region: 'x', name: 'ams-disks' })).code).toBe('SourceNameTaken');
    expect(errorOf(await router.invoke('addSource', { kind: 'folder', target: 'relative', region: 'x' })).code).toBe('InvalidArgument');
    const missing = unwrap(await router.invoke('addSource', { kind: 'folder', target: path.join(dir, 'nope'), region: 'x' }));
    expect(missing.state).toBe('unreachable');
    // The unreachable source does not stop discovery: the job completes with a warning naming it.
    await discover(router, engine, 'vault-ams', 'CompletedWithWarnings');
    for (const j of unwrap(await router.invoke('registerVms', { vault: 'vault-ams', vms: ['shop/db01'] }))) await engine.jobs.wait(j.id);
    expect(errorOf(await router.invoke('editSource', { name: 'ams-disks', region: 'elsewhere' })).code).toBe('SourceInUse');
    expect(errorOf(await router.invoke('removeSource', { name: 'ams-disks' })).code).toBe('SourceInUse');
    expect(unwrap(await router.invoke('removeSource', { name: 'rtm-disks' }))).toEqual({ name: 'rtm-disks', forgottenVms: 1 });
    const list = unwrap(await router.invoke('listSources', {}));
    expect(list.map((s) => [s.name, s.state, s.vmCount])).toEqual([
      ['ams-disks', 'reachable', 3],
      [missing.name, 'unreachable', 0],
    ]);
  });
});

describe('discovery and registration through the CLI', () => {
  it('runs W1..W7 with exit codes and error codes', async () => {
    const { dir, ams, engine } = await setup();
    await engine.close(); // the CLI opens the catalog itself
    const data = path.join(dir, 'data');
    const coffer = cofferIn(data);

    const discovered = coffer('vm', 'discover', '--vault', 'vault-ams');
    expect(discovered.code, discovered.err).toBe(0);
    expect(discovered.out).toMatch(/web-tier\s+lab-amsterdam/);
    expect(discovered.out).toContain('not listed: lab/other01 (OtherRegion');

    const ambiguous = coffer('vm', 'register', '--vault', 'vault-ams', 'web01');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toContain('VmAmbiguous');
    const other = coffer('vm', 'register', '--vault', 'vault-ams', 'other01');
    expect(other.code).toBe(1);
    expect(other.err).toContain('VmNotInVaultRegion');

    const ok = coffer('vm', 'register', '--vault', 'vault-ams', 'web-tier/web01', 'shop/db01');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out.match(/Register .*: Completed/g)).toHaveLength(2);
    const list = JSON.parse(coffer('vm', 'list', '--vault', 'vault-ams', '--json').out) as Vm[];
    expect(list.map((v) => `${v.cloudService}/${v.name}`)).toEqual(['shop/db01', 'web-tier/web01']);

    const jobs = JSON.parse(coffer('job', 'list', '--operation', 'Register', '--json').out) as { status: string }[];
    expect(jobs.map((j) => j.status)).toEqual(['Completed', 'Completed']);

    const sources = coffer('source', 'list');
    expect(sources.out).toMatch(/ams-disks\s+folder/);
    expect(coffer('source', 'add', 'folder', ams, '--region', 'r', '--name', 'ams-disks').err).toContain('SourceNameTaken');

    // Unregistering is confirmed: asked in a terminal, else --yes; without either nothing changes.
    const unasked = coffer('vm', 'unregister', '--vault', 'vault-ams', 'shop/db01');
    expect(unasked.code).toBe(2); // InvalidArgument's exit code
    expect(unasked.err).toContain('InvalidArgument');
    expect(unasked.err).toContain('--yes');
    expect((JSON.parse(coffer('vm', 'list', '--vault', 'vault-ams', '--json').out) as Vm[]).map((v) => v.name)).toContain('db01');
    const un = coffer('vm', 'unregister', '--vault', 'vault-ams', 'shop/db01', '--yes');
    expect(un.code, un.err).toBe(0);
    expect(un.out).toContain('Unregister');
  });
});

describe('a libvirt source through the CLI (virsh -c test:///default)', () => {
  it('adds the connection, discovers its domain with its power state and registers it', () => {
    const dir = tmp();
    const data = path.join(dir, 'data');
    const coffer = cofferIn(data, { COFFER_PASSPHRASE: 'correct horse battery' });
    expect(coffer('vault', 'create', 'kvm-vault', '--region', 'dc1', '--path', path.join(dir, 'v')).code).toBe(0);
    const added = coffer('source', 'add', 'libvirt', 'test:///default', '--region', 'dc1', '--name', 'testdrv', '--json');
    expect(added.code, added.err).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ kind: 'libvirt', state: 'reachable' });
    const found = coffer('vm', 'discover', '--vault', 'kvm-vault', '--json');
    expect(found.code, found.err).toBe(0);
    const result = JSON.parse(found.out) as { candidates: Vm[] };
    // The test driver's built-in domain "test" runs, with one disk.
    expect(result.candidates).toEqual([expect.objectContaining({ name: 'test', cloudService: 'test', powerState: 'running', kind: 'libvirt' })]);
    expect(coffer('vm', 'register', '--vault', 'kvm-vault', 'test').code).toBe(0);
    expect(coffer('source', 'remove', 'testdrv').err).toContain('SourceInUse');
    const missing = coffer('source', 'add', 'libvirt', 'test:///nonexistent/node.xml', '--region', 'dc1', '--json');
    expect(missing.code).toBe(0);
    expect(JSON.parse(missing.out).state).toBe('unreachable');
  });
});
