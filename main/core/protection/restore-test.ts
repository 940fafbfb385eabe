import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import type { Job } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { label } from '../inventory.js';
import type { JobContext } from '../jobs.js';
import { processAlive } from '../process-alive.js';
import { parseLibvirtDomainXml } from '../sources/formats/libvirt-xml.js';
import { hardwareOf, type VmHardware } from '../sources/formats/hardware.js';
import { domainUuid, isLocalUri, virsh, VirshError } from '../sources/libvirt.js';
import { checkLibvirtUri } from '../sources/libvirt-uri.js';
import type { Vault } from '../vault/vault.js';
import { domainDisks } from './as-libvirt.js';
import type { ProtectionContext, RegisteredVm } from './context.js';
import { convertRestoredDisks } from './convert.js';
import { renameRestoredVm, rewriteDefinition } from './definition.js';
import { adaptDomainForTest, libvirtDomainXml } from './domain-xml.js';
import {
  agentPing,
  assertIsolatedNetwork,
  createIsolatedNetwork,
  domainExists,
  domainTypeFor,
  libvirtFailure,
  removeDomain,
  removeNetwork,
  startTransientDomain,
} from './libvirt-vm.js';

/*
 * Test restore: a recovery point restored as a temporary VM (coffer-test-<point>-<random>) on a
 * libvirt connection, on an isolated network, booted until it answers: the guest agent's ping when
 * its definition has a qemu-ga channel, else a text on its serial console (written to a file).
 * The VM, its disks and its network are removed whatever happens. A record of each test is kept
 * beside its files until the cleanup is done, so a test cut short by a crash of Coffer is cleaned
 * at the next start (or before the next test).
 */

export const RESTORE_TEST_PREFIX = 'coffer-test-';
export const DEFAULT_TEST_URI = 'qemu:///system';
/** How often the heartbeat is looked for while the VM boots. */
const POLL_MS = 1000;
const SERIAL_TAIL_LINES = 20;
/** libvirt's own image folder: the hypervisor's user can reach it (Coffer's data folder may sit in a private home). */
const LIBVIRT_IMAGES = '/var/lib/libvirt/images';

/** Where a test's temporary disks go: libvirt's image folder for the local system QEMU, else beside Coffer's data. */
function disksRootFor(uri: string, recordsRoot: string): string {
  if (uri === DEFAULT_TEST_URI && fs.existsSync(LIBVIRT_IMAGES)) return LIBVIRT_IMAGES;
  return recordsRoot;
}

export interface TestRestoreHow {
  uri?: string | undefined;
  timeoutSeconds: number;
  heartbeat: string;
  network?: string | undefined;
}

/** What a test leaves until it is cleaned: written before anything is created. */
interface Leftover {
  uri: string;
  domain: string;
  uuid: string;
  /** The network the test created (null: an existing one was used). */
  network: string | null;
  dir: string;
  pid: number;
}

/** Removes what a test made (domain, created network, files) and then its record. */
async function cleanUp(root: string, l: Leftover): Promise<void> {
  await removeDomain(l.uri, l.uuid).catch(() => undefined);
  if (l.network) await removeNetwork(l.uri, l.network).catch(() => undefined);
  await fs.promises.rm(l.dir, { recursive: true, force: true });
  await fs.promises.rm(path.join(root, `${l.domain}.json`), { force: true });
}

/** Cleans the tests of processes that are gone (a crash, a kill): their VMs, networks and disks. */
export async function sweepRestoreTestLeftovers(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(root)).filter((n) => n.startsWith(RESTORE_TEST_PREFIX) && n.endsWith('.json'));
  } catch {
    return [];
  }
  const cleaned: string[] = [];
  for (const n of names) {
    let l: Leftover;
    try {
      l = JSON.parse(await fs.promises.readFile(path.join(root, n), 'utf8')) as Leftover;
    } catch {
      continue;
    }
    if (l.pid !== process.pid && processAlive(l.pid)) continue;
    if (l.pid === process.pid) continue; // a test of this process: it cleans up itself
    // Only what a test made: a folder named after its coffer-test domain.
    if (!l.domain.startsWith(RESTORE_TEST_PREFIX) || path.basename(l.dir) !== l.domain) continue;
    await cleanUp(root, l);
    cleaned.push(l.domain);
  }
  return cleaned;
}

function serialTail(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    return [];
  }
  return text
    .split(/\r?\n|\r/)
    .map((l) => [...stripVTControlCharacters(l)].filter((c) => c >= ' ' && c !== '\x7f').join('').trimEnd())
    .filter((l) => l.length > 0)
    .slice(-SERIAL_TAIL_LINES);
}

function serialHas(file: string, text: string): boolean {
  try {
    return fs.readFileSync(file, 'latin1').includes(text);
  } catch {
    return false;
  }
}


export class RestoreTestService {
  /** The cleanup of earlier runs' leftovers, started when the engine opens. */
  readonly swept: Promise<string[]>;

  constructor(
    private readonly ctx: ProtectionContext,
    private readonly root: string,
  ) {
    this.swept = sweepRestoreTestLeftovers(root).catch(() => []);
  }

  testRestore(ref: string, pointId: string, how: TestRestoreHow): Job {
    const vm = this.ctx.registeredVm(ref);
    if (!this.ctx.pointRows(vm.id).some((p) => p.id === pointId)) throw new CofferError('RecoveryPointNotFound', `${label(vm)} has no recovery point ${pointId}.`);
    const uri = how.uri ?? DEFAULT_TEST_URI;
    checkLibvirtUri(uri);
    if (!isLocalUri(uri)) {
      throw new CofferError('InvalidArgument', `uri: a test restore writes the disks on this machine, so it needs a local libvirt connection (such as ${DEFAULT_TEST_URI}), not ${uri}.`, { field: 'uri' });
    }
    return this.ctx.jobs.start('TestRestore', this.ctx.subject(vm), async (job) => {
      await this.swept;
      await sweepRestoreTestLeftovers(this.root);
      const domain = `${RESTORE_TEST_PREFIX}${pointId}-${randomBytes(3).toString('hex')}`;
      const leftover: Leftover = { uri, domain, uuid: randomUUID(), network: how.network ? null : domain, dir: path.join(disksRootFor(uri, this.root), domain), pid: process.pid };
      fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
      fs.writeFileSync(path.join(this.root, `${domain}.json`), JSON.stringify(leftover), { mode: 0o600 });
      try {
        return await this.run(job, vm, pointId, how, leftover);
      } finally {
        await cleanUp(this.root, leftover);
      }
    });
  }

  private async run(job: JobContext, vm: RegisteredVm, pointId: string, how: TestRestoreHow, l: Leftover) {
    const vmLabel = label(vm);
    const started = Date.now();
    // The hypervisor (not Coffer's user) opens the disks and the serial log: the folders must be passable.
    fs.mkdirSync(l.dir, { mode: 0o711 });
    fs.chmodSync(l.dir, 0o711);
    const disksDir = path.join(l.dir, 'disks');
    fs.mkdirSync(disksDir, { mode: 0o711 });
    const serialLog = path.join(l.dir, 'serial.log');
    const vault = await this.ctx.vaults.openVault(vm.vaultName);
    const defName = (await vault.readManifest(pointId)).definition?.fileName;
    // A test restore is a check of the point: every chunk is re-hashed against its id too.
    const result = await vault.restore(pointId, disksDir, {
      checkContent: true,
      signal: job.signal,
      onProgress: (p) => job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond }),
    });
    const network = l.network ?? how.network!;
    const { xml, agent } = await this.domainXml(vm, vault, pointId, disksDir, defName, result.files.map((f) => f.name), l, network, serialLog, job.signal);
    const restoreSeconds = (Date.now() - started) / 1000;

    job.signal.throwIfAborted();
    try {
      if (l.network) await createIsolatedNetwork(l.uri, l.network, l.dir);
      else await assertIsolatedNetwork(l.uri, how.network!);
    } catch (e) {
      throw libvirtFailure(e, `creating the isolated network ${network}`, l.uri);
    }
    const xmlFile = path.join(l.dir, `${l.domain}.xml`);
    fs.writeFileSync(xmlFile, xml, { mode: 0o600 });
    try {
      await startTransientDomain(l.uri, xmlFile, job.signal);
    } catch (e) {
      throw libvirtFailure(e, `starting the test VM ${l.domain}`, l.uri);
    }
    const bootStarted = Date.now();
    const heartbeat: 'agent' | 'serial' = agent ? 'agent' : 'serial';
    job.note({ code: 'RestoreTestBooting', params: { vm: vmLabel, domain: l.domain, uri: l.uri, viaAgent: agent } });

    const deadline = bootStarted + how.timeoutSeconds * 1000;
    let answered = false;
    let stopped = false;
    for (let i = 0; Date.now() < deadline; i++) {
      answered = agent ? await agentPing(l.uri, l.uuid, job.signal) : serialHas(serialLog, how.heartbeat);
      if (answered) break;
      if (i % 5 === 4 && !(await domainExists(l.uri, l.uuid))) {
        stopped = true;
        break;
      }
      await sleep(POLL_MS, undefined, { signal: job.signal });
    }
    const tail = serialTail(serialLog);
    if (!answered) {
      const what = agent ? 'the guest agent did not answer guest-ping' : `"${how.heartbeat}" did not appear on its serial console`;
      const when = stopped ? 'before the VM stopped' : `within ${how.timeoutSeconds} s`;
      throw new CofferError(
        'RestoreTestNoHeartbeat',
        `The test VM ${l.domain} of ${vmLabel} point ${pointId}: ${what} ${when}.${tail.length ? ` Last serial console lines:\n${tail.join('\n')}` : ' The serial console stayed empty.'}`,
        { domain: l.domain, uri: l.uri, heartbeat, timeoutSeconds: how.timeoutSeconds, stopped, serialTail: tail },
      );
    }
    const bootSeconds = (Date.now() - bootStarted) / 1000;
    return {
      summary: { code: 'RestoreTestPassed' as const, params: { vm: vmLabel, pointId, viaAgent: agent, restoreSeconds, bootSeconds } },
      details: { domain: l.domain, uri: l.uri, network: l.network ?? how.network ?? null, heartbeat, restoreSeconds, bootSeconds, totalSeconds: (Date.now() - started) / 1000, bytes: result.bytes, serialTail: tail },
    };
  }

  /** The test VM's domain XML: the restored libvirt definition adapted, or one made from another hypervisor's definition. */
  private async domainXml(
    vm: RegisteredVm,
    vault: Vault,
    pointId: string,
    disksDir: string,
    defName: string | undefined,
    files: readonly string[],
    l: Leftover,
    network: string,
    serialLog: string,
    signal: AbortSignal,
  ): Promise<{ xml: string; agent: boolean }> {
    const available = await domainTypeFor(l.uri, signal).catch((e: unknown) => {
      throw libvirtFailure(e, 'reading the capabilities', l.uri);
    });
    let definition = defName ? await renameRestoredVm(vault, pointId, disksDir, l.domain) : undefined;
    if (!definition) definition = await this.currentLibvirtDefinition(vm, disksDir, l.domain, signal);
    const text = definition ? fs.readFileSync(definition, 'utf8') : '';
    const parsed = definition && /\.xml$/i.test(definition) ? parseLibvirtDomainXml(text) : undefined;
    if (parsed) {
      // A kvm domain restored where only TCG runs still boots, more slowly.
      const type = parsed.type === 'kvm' && available !== 'kvm' ? available : undefined;
      const xml = adaptDomainForTest(text, { name: l.domain, type, network, serialLog }).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${l.uuid}</uuid>`);
      return { xml: /<uuid>/.test(xml) ? xml : xml.replace(/<\/name>/, `</name><uuid>${l.uuid}</uuid>`), agent: parsed.guestAgent !== 'absent' };
    }
    const hw: VmHardware = (definition ? hardwareOf(definition, text) : undefined) ?? { cpus: 1, memoryMiB: 1024, firmware: 'bios', disks: [], nics: 1 };
    const disks = await convertRestoredDisks(disksDir, files.filter((f) => f !== defName), 'qcow2', { signal });
    const xml = libvirtDomainXml({
      name: l.domain,
      uuid: l.uuid,
      type: available,
      cpus: hw.cpus,
      memoryMiB: hw.memoryMiB,
      firmware: hw.firmware,
      disks: domainDisks(hw, disks),
      nics: Math.max(1, hw.nics),
      network,
      serialLog,
    });
    return { xml, agent: false };
  }

  /**
   * A point of a libvirt source carries no domain XML: the VM's definition as its source has it now
   * (`virsh dumpxml --inactive`), pointed at the restored disks. Undefined for other sources or a VM the source no longer has.
   */
  private async currentLibvirtDefinition(vm: RegisteredVm, disksDir: string, name: string, signal: AbortSignal): Promise<string | undefined> {
    const source = this.ctx.sourceOf(vm);
    if (source?.kind !== 'libvirt') return undefined;
    let xml: string;
    try {
      xml = await virsh(source.target, ['dumpxml', '--inactive', '--domain', domainUuid(vm.stableId)], { signal });
    } catch (e) {
      if (e instanceof VirshError) return undefined;
      throw e;
    }
    const file = path.join(disksDir, `${name}.source.xml`);
    fs.writeFileSync(file, rewriteDefinition(file, xml, name, disksDir), { mode: 0o600 });
    return file;
  }
}
