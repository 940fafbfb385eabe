import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The local system libvirt, as the live KVM tests use it. */
export const KVM_URI = 'qemu:///system';

const libvirtAnswers = (): boolean => spawnSync('virsh', ['-c', KVM_URI, 'version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/**
 * Why this machine cannot run live KVM tests, or undefined when it can. Starts libvirtd when it is
 * installed but not running, then polls (bounded: 10 s) until virsh answers.
 */
export function whyNoKvm(tools: string[] = ['virsh', 'libvirtd', 'virtlogd', 'qemu-system-x86_64']): string | undefined {
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm';
  return whyNoQemu(tools);
}

/** The domain type ('kvm' with /dev/kvm, else QEMU's TCG) and the test guest's domain XML. */
export { guestDomainXml, QEMU_DOMAIN_TYPE } from './guest-domain.mjs';

/**
 * Why this machine cannot run a real QEMU guest under the system libvirt (KVM or, without
 * /dev/kvm, TCG), or undefined when it can. Starts libvirtd when it is installed but not running.
 */
export function whyNoQemu(tools: string[] = ['virsh', 'libvirtd', 'virtlogd', 'qemu-system-x86_64']): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (the test starts libvirtd and defines domains)';
  for (const t of tools) {
    if (spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0) return `${t} is not installed (apt-get install libvirt-daemon-system qemu-system-x86)`;
  }
  if (libvirtAnswers()) return undefined;
  spawnSync('virtlogd', ['-d'], { stdio: 'ignore' });
  spawnSync('libvirtd', ['-d'], { stdio: 'ignore' });
  for (let i = 0; i < 40; i++) {
    if (libvirtAnswers()) return undefined;
    spawnSync('sleep', ['0.25']);
  }
  return `virsh -c ${KVM_URI} does not answer after starting libvirtd`;
}
