import { FolderProvider } from './folder.js';
import { HyperVProvider } from './hyperv.js';
import { LibvirtProvider } from './libvirt.js';
import type { VmProvider } from './types.js';
import { VirtualBoxProvider } from './virtualbox.js';
import { VmwareProvider } from './vmware.js';

export type ProviderSpec =
  | { kind: 'folder'; path: string; allowedRoots?: readonly string[]; allowBlockDevices?: boolean }
  | { kind: 'libvirt'; uri: string; cloudServiceLabel?: string }
  | { kind: 'virtualbox' | 'vmware' | 'hyperv'; cloudServiceLabel?: string };

export function createProvider(spec: ProviderSpec): VmProvider {
  switch (spec.kind) {
    case 'folder':
      return new FolderProvider(spec.path, {
        ...(spec.allowedRoots ? { allowedRoots: spec.allowedRoots } : {}),
        ...(spec.allowBlockDevices !== undefined ? { allowBlockDevices: spec.allowBlockDevices } : {}),
      });
    case 'libvirt':
      return new LibvirtProvider(spec.uri, spec.cloudServiceLabel ? { cloudServiceLabel: spec.cloudServiceLabel } : {});
    case 'virtualbox':
      return new VirtualBoxProvider(spec.cloudServiceLabel ? { cloudServiceLabel: spec.cloudServiceLabel } : {});
    case 'vmware':
      return new VmwareProvider(spec.cloudServiceLabel ? { cloudServiceLabel: spec.cloudServiceLabel } : {});
    case 'hyperv':
      return new HyperVProvider(spec.cloudServiceLabel ? { cloudServiceLabel: spec.cloudServiceLabel } : {});
  }
}

export { checkLibvirtUri } from './libvirt-uri.js';
export { diskPathChanges, diskPaths, refusedDiskError, type DiskPathChanges } from './confinement.js';
export type { DiscoveredVm, DiskRef, SourceStatus, VmProvider } from './types.js';
export { withConsistentSnapshot, freezeFilesystems, thawFilesystems, createDiskOnlySnapshot, blockCommitActive, type Consistency } from './libvirt-snapshot.js';
