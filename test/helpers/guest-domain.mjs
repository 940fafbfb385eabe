// The libvirt guest the live tests and the KVM benches run (plain JavaScript: the benches import
// it as it is, the tests through guest-domain.d.mts).
import { existsSync } from 'node:fs';

/**
 * The libvirt domain type a test guest runs under here: 'kvm' with /dev/kvm, else 'qemu'
 * (QEMU's TCG emulation: slower, but a real QEMU process with real block jobs, bitmaps and NBD).
 */
export const QEMU_DOMAIN_TYPE = existsSync('/dev/kvm') ? 'kvm' : 'qemu';

/**
 * A minimal domain: 32 MiB, one vCPU, no OS (it boots nothing; QEMU still serves its block jobs,
 * monitor and NBD exports), `disk` as vda on virtio, QEMU running as root without relabelling
 * (the disk sits in a temporary folder).
 */
export function guestDomainXml({ name, disk, format = 'qcow2', type = QEMU_DOMAIN_TYPE }) {
  return `<domain type='${type}'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel></domain>`;
}
