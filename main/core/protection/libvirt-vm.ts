import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CofferError } from '../errors.js';
import { ToolMissingError } from '../sources/exec.js';
import { domainUuid, virsh, VirshError } from '../sources/libvirt.js';
import { escapeXml } from './domain-xml.js';

/*
 * What a restore asks of a libvirt connection beyond `virsh define`: the domain type it can run,
 * a temporary (transient) domain and isolated network for a test boot, the guest agent's ping.
 * Domains are addressed by UUID (see sources/libvirt.ts); networks by the name Coffer gave them.
 */

/** libvirt's reason, or the tool's absence, as RestoreTestFailed. */
export function libvirtFailure(e: unknown, what: string, uri: string): unknown {
  if (e instanceof CofferError) return e;
  if (e instanceof ToolMissingError) return new CofferError('RestoreTestFailed', `virsh is not installed (apt-get install libvirt-clients): ${what} on ${uri} is not possible.`, { uri });
  if (e instanceof VirshError) return new CofferError('RestoreTestFailed', `${what} on ${uri} failed: ${e.detail}`, { uri });
  return e;
}

/** The best domain type the connection offers for x86_64 guests: kvm, else qemu (TCG), else what it has (test). */
export async function domainTypeFor(uri: string, signal?: AbortSignal): Promise<string> {
  const caps = await virsh(uri, ['capabilities'], signal ? { signal } : {});
  const types = [...caps.matchAll(/<domain\s+type=['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return types.find((t) => t === 'kvm') ?? types.find((t) => t === 'qemu') ?? types[0] ?? 'qemu';
}

/** Starts a transient domain from an XML file (`virsh create`): once destroyed, nothing of it stays defined. */
export async function startTransientDomain(uri: string, xmlFile: string, signal?: AbortSignal): Promise<void> {
  await virsh(uri, ['create', '--file', xmlFile], { timeoutMs: 120_000, ...(signal ? { signal } : {}) });
}

/** Stops and forgets a domain, ignoring "not running" and "not found": cleanup must not fail on what is gone. */
export async function removeDomain(uri: string, uuid: string): Promise<void> {
  const id = domainUuid(uuid);
  await virsh(uri, ['destroy', '--domain', id]).catch(() => undefined);
  await virsh(uri, ['undefine', '--domain', id, '--nvram']).catch(() => virsh(uri, ['undefine', '--domain', id]).catch(() => undefined));
}

/** Whether a domain with this UUID still exists on the connection. */
export async function domainExists(uri: string, uuid: string): Promise<boolean> {
  try {
    // domstate looks a UUID up (domuuid would only take a name or an id).
    await virsh(uri, ['domstate', '--domain', domainUuid(uuid)]);
    return true;
  } catch (e) {
    if (e instanceof VirshError) return false;
    throw e;
  }
}

/** A transient network without <forward> and without addresses: guests on it reach only each other. */
export async function createIsolatedNetwork(uri: string, name: string, dir: string): Promise<void> {
  const file = path.join(dir, `${name}.network.xml`);
  await fs.writeFile(file, `<network><name>${escapeXml(name)}</name></network>\n`, { mode: 0o600 });
  await virsh(uri, ['net-create', '--file', file]);
}

/** Checks that an existing network is isolated (no <forward>); a test VM must not reach the original's network. */
export async function assertIsolatedNetwork(uri: string, name: string): Promise<void> {
  let xml: string;
  try {
    xml = await virsh(uri, ['net-dumpxml', '--network', name]);
  } catch (e) {
    throw libvirtFailure(e, `reading network ${name}`, uri);
  }
  if (/<forward\b/.test(xml)) {
    throw new CofferError('InvalidArgument', `network: ${name} on ${uri} forwards traffic (it has <forward>); a test restore needs an isolated network.`, { field: 'network' });
  }
  const active = await virsh(uri, ['net-info', '--network', name]).catch(() => '');
  if (!/^Active:\s*yes/m.test(active)) throw new CofferError('InvalidArgument', `network: ${name} on ${uri} is not active (virsh net-start ${name}).`, { field: 'network' });
}

export async function removeNetwork(uri: string, name: string): Promise<void> {
  await virsh(uri, ['net-destroy', '--network', name]).catch(() => undefined);
  await virsh(uri, ['net-undefine', '--network', name]).catch(() => undefined);
}

export async function networkExists(uri: string, name: string): Promise<boolean> {
  try {
    await virsh(uri, ['net-uuid', '--network', name]);
    return true;
  } catch (e) {
    if (e instanceof VirshError) return false;
    throw e;
  }
}

/** The guest agent's answer to guest-ping (false while the agent is not up yet). */
export async function agentPing(uri: string, uuid: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await virsh(uri, ['qemu-agent-command', '--domain', domainUuid(uuid), '--timeout', '5', '{"execute":"guest-ping"}'], { timeoutMs: 20_000, ...(signal ? { signal } : {}) });
    return true;
  } catch (e) {
    if (e instanceof VirshError) return false;
    throw e;
  }
}
