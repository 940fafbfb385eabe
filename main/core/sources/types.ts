/** What every VM source provider reports. Plain data: the catalog stores it as JSON. */

export type PowerState = 'running' | 'off' | 'paused' | 'saved' | 'unknown';
export type VmKind = 'libvirt' | 'virtualbox' | 'vmware' | 'ovf' | 'hyperv' | 'images';
export type DiskFormat = 'raw' | 'qcow2' | 'vdi' | 'vmdk' | 'vhd' | 'vhdx' | 'unknown';

export interface DiskRef {
  /** Target device (vda, SATA-0-0) or, for folder images, the file name. */
  name: string;
  /** Absolute path (a Windows path for Hyper-V). */
  path: string;
  format: DiskFormat;
  /** Size of the file on disk (what a backup reads), not the virtual size. */
  sizeBytes?: number;
  exists: boolean;
  /** 'backing': a parent in a snapshot chain (qcow2 backing file, VirtualBox differencing parent, VMware delta parent). */
  role: 'disk' | 'backing';
  /**
   * Set on the extent files of a VMDK descriptor: the descriptor's path. Extents are listed as their
   * own entries so a byte-for-byte backup of `disks` is complete; a UI counting disks skips them.
   */
  extentOf?: string;
  /**
   * Set when the source does not allow reading this file (a folder source's disk outside its folder
   * and allowed roots, or a block device it has not enabled): discovery lists it, a backup refuses it.
   */
  refused?: { code: 'DiskOutsideSource' | 'BlockDeviceNotAllowed'; reason: string };
}

export interface DiscoveredVm {
  /** Unique within the source: libvirt/VirtualBox UUID, VMware uuid.bios, Hyper-V Id, or a path relative to the source root. */
  stableId: string;
  name: string;
  /** Tells apart VMs with equal names inside one source (folder group, libvirt host, VirtualBox group). */
  cloudService: string;
  powerState: PowerState;
  kind: VmKind;
  /** The definition file (domain XML, .vbox, .vmx, .ovf) when there is one. */
  definitionPath?: string;
  disks: DiskRef[];
  /** libvirt: a guest agent channel is configured and not reported disconnected. */
  guestAgent?: boolean;
  /** Human-readable findings that do not stop discovery, e.g. a missing disk file. */
  problems: string[];
}

export interface SourceStatus {
  state: 'reachable' | 'unreachable' | 'tool-missing';
  message: string;
}

export interface VmProvider {
  status(): Promise<SourceStatus>;
  list(signal?: AbortSignal): Promise<DiscoveredVm[]>;
}
