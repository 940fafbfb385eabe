import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HyperVProvider, hyperVToDiscovered, parseHyperVDisks, parseHyperVVms, powerStateFromHyperV } from '../../../main/core/sources/hyperv.js';
import { parseShowVmInfo, parseVboxList, VirtualBoxProvider } from '../../../main/core/sources/virtualbox.js';
import { parseVmrunList, parseVmwareInventory, VmwareProvider } from '../../../main/core/sources/vmware.js';

// VirtualBox, VMware and Hyper-V cannot be installed here: these tests parse recorded output of their tools.
const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('VBoxManage (recorded output)', () => {
  it('parses recorded `VBoxManage list vms`, names with quotes and inaccessible VMs included', () => {
    expect(parseVboxList(fixture('vboxmanage-list-vms.txt'))).toEqual([
      { name: 'Ubuntu Server 22.04', uuid: '8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f' },
      { name: 'win10 "dev"', uuid: '2b7e9a10-55c3-4d21-8f0e-6c4b3a291f77' },
      { name: '<inaccessible>', uuid: 'd4c3b2a1-0000-4abc-8def-123456789abc' },
    ]);
  });

  it('parses recorded `showvminfo --machinereadable` of a running VM: state, group, config file, hard disks only', () => {
    const info = parseShowVmInfo(fixture('vboxmanage-showvminfo-ubuntu.txt'));
    expect(info).toMatchObject({
      name: 'Ubuntu Server 22.04',
      uuid: '8f2d3c4e-1a2b-4c5d-9e8f-0a1b2c3d4e5f',
      state: 'running',
      group: 'Lab/Web',
      cfgFile: '/home/alice/VirtualBox VMs/Ubuntu Server 22.04/Ubuntu Server 22.04.vbox',
    });
    // The ISO in the DVD slot and the empty IDE ports are not disks.
    expect(info.drives).toEqual([
      { slot: 'SATA-0-0', path: '/home/alice/VirtualBox VMs/Ubuntu Server 22.04/Snapshots/{3c1b7d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}.vdi' },
      { slot: 'SATA-1-0', path: '/home/alice/VirtualBox VMs/Ubuntu Server 22.04/data.vmdk' },
    ]);
  });

  it('parses recorded Windows output: escaped quotes and backslashes, default group, powered off', () => {
    const info = parseShowVmInfo(fixture('vboxmanage-showvminfo-win10.txt'));
    expect(info.name).toBe('win10 "dev"');
    expect(info.state).toBe('off');
    expect(info.group).toBeUndefined();
    expect(info.drives).toEqual([{ slot: 'NVMe-0-0', path: 'C:\\Users\\bob\\VirtualBox VMs\\win10 dev\\win10 dev.vdi' }]);
  });

  it('falls back to the attached disks when the .vbox is not readable here, and reports them missing', async () => {
    const p = new VirtualBoxProvider({ cloudServiceLabel: 'desk-03' });
    const vm = await p.vmFromInfo(parseShowVmInfo(fixture('vboxmanage-showvminfo-win10.txt')), '2b7e9a10-55c3-4d21-8f0e-6c4b3a291f77', 'win10 "dev"');
    expect(vm).toMatchObject({ stableId: '2b7e9a10-55c3-4d21-8f0e-6c4b3a291f77', cloudService: 'desk-03', powerState: 'off', kind: 'virtualbox' });
    expect(vm.disks).toEqual([expect.objectContaining({ format: 'vdi', exists: false, role: 'disk' })]);
    expect(vm.problems[0]).toMatch(/missing/);
  });

  it('without VBoxManage on PATH: status tool-missing with the install hint, list() empty, no exception', async () => {
    const p = new VirtualBoxProvider({ vboxmanage: 'VBoxManage-not-installed-here' });
    expect(await p.status()).toEqual({ state: 'tool-missing', message: 'VBoxManage not found on PATH: install VirtualBox to back up its VMs' });
    expect(await p.list()).toEqual([]);
  });
});

describe('vmrun (recorded output)', () => {
  it('parses recorded `vmrun list` with paths containing spaces, and an empty one', () => {
    expect(parseVmrunList(fixture('vmrun-list.txt'))).toEqual(['/home/alice/vmware/Web Server/Web Server.vmx', '/home/alice/vmware/db01/db01.vmx']);
    expect(parseVmrunList(fixture('vmrun-list-none.txt'))).toEqual([]);
    expect(() => parseVmrunList('Error: Unable to connect to host.')).toThrow(/unexpected vmrun list output/);
  });

  it('parses a recorded inventory.vmls: VM configs only, not library folders', () => {
    expect(parseVmwareInventory(fixture('vmware-inventory.vmls'))).toEqual(['/home/alice/vmware/Web Server/Web Server.vmx', '/home/alice/vmware/old-test/old-test.vmx']);
  });

  it('without vmrun on PATH: status tool-missing, list() empty', async () => {
    const p = new VmwareProvider({ vmrun: 'vmrun-not-installed-here' });
    expect((await p.status()).state).toBe('tool-missing');
    expect((await p.status()).message).toMatch(/vmrun not found on PATH/);
    expect(await p.list()).toEqual([]);
  });
});

describe('Hyper-V PowerShell (recorded output)', () => {
  it('parses recorded `Get-VM | ConvertTo-Json` with state names', () => {
    expect(parseHyperVVms(fixture('hyperv-get-vm.json'))).toEqual([
      { name: 'web01', id: '9f2c1a3e-7b4d-4e5f-8a6b-1c2d3e4f5a6b', state: 'running', path: 'C:\\ProgramData\\Microsoft\\Windows\\Hyper-V' },
      { name: 'build agent', id: '0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f', state: 'off', path: 'D:\\Hyper-V\\build agent' },
      { name: 'dc02', id: '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d', state: 'saved', path: 'D:\\Hyper-V\\dc02' },
    ]);
  });

  it('parses a single VM (an object, not an array) with a numeric state', () => {
    expect(parseHyperVVms(fixture('hyperv-get-vm-plain.json'))).toEqual([{ name: 'lonely', id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', state: 'paused', path: 'D:\\Hyper-V\\lonely' }]);
    expect(parseHyperVVms('')).toEqual([]);
    expect(powerStateFromHyperV('RunningCritical')).toBe('running');
  });

  it('parses recorded `Get-VMHardDiskDrive` output and lists checkpoint parents as backing', () => {
    const disks = parseHyperVDisks(fixture('hyperv-get-vmharddiskdrive.json'));
    expect(disks.map((d) => [d.slot, d.parentChain.length])).toEqual([
      ['SCSI-0-0', 1],
      ['SCSI-0-1', 0],
      ['IDE-0-0', 0],
    ]);
    const vms = hyperVToDiscovered(parseHyperVVms(fixture('hyperv-get-vm.json')), disks, 'hv-01');
    expect(vms[0]!.disks.map((d) => [d.name, d.format, d.role])).toEqual([
      ['SCSI-0-0', 'vhdx', 'disk'],
      ['web01.vhdx', 'vhdx', 'backing'],
      ['SCSI-0-1', 'vhdx', 'disk'],
    ]);
    expect(vms[1]!.disks.map((d) => d.format)).toEqual(['vhd']);
    expect(vms[2]!.disks).toEqual([]);
    expect(vms.every((v) => v.cloudService === 'hv-01' && v.kind === 'hyperv')).toBe(true);
  });

  it('without PowerShell/Hyper-V: status tool-missing, list() empty', async () => {
    const p = new HyperVProvider(process.platform === 'win32' ? { powershell: 'powershell-not-installed-here' } : {});
    expect((await p.status()).state).toBe('tool-missing');
    expect(await p.list()).toEqual([]);
  });
});
