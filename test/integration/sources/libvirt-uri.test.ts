import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LibvirtProvider } from '../../../main/core/sources/libvirt.js';
import { errorOf } from '../../helpers/cli.js';
import { useEngines } from '../../helpers/engine.js';
import { useTmp } from '../../helpers/tmp.js';

// A libvirt URI can name a program for virsh to run (ext transport, command=). Adding such a
// source, or scanning one already in the catalog, must refuse before virsh starts.
const tmp = useTmp();
const open = useEngines();

/** A program that leaves a marker file when something runs it. */
function trap(dir: string): { program: string; marker: string } {
  const marker = path.join(dir, 'ran');
  const program = path.join(dir, 'connect.sh');
  writeFileSync(program, `#!/bin/sh\ntouch '${marker}'\nexit 1\n`);
  chmodSync(program, 0o755);
  return { program, marker };
}

describe('libvirt URIs that would run a program', () => {
  it.each([
    'qemu+ext:///system?command=PROGRAM',
    'qemu+ext:///system?COMMAND=PROGRAM',
    'qemu+ssh://backup@kvm1.example.org/system?command=PROGRAM',
    'qemu+ssh://kvm1.example.org/system?no_tty=1;command=PROGRAM',
    'qemu+ssh://kvm1.example.org/system?netcat=PROGRAM',
    'qemu+unix:///system?socket=PROGRAM.sock',
  ])('addSource refuses %s with LibvirtUriRefused and runs nothing', async (template) => {
    const dir = tmp();
    const { program, marker } = trap(dir);
    const { router } = open(path.join(dir, 'data'));
    const err = errorOf(await router.invoke('addSource', { kind: 'libvirt', target: template.replace('PROGRAM', program), region: 'lab', name: 'kvm' }));
    expect(err.code).toBe('LibvirtUriRefused');
    expect(err.remedy).toMatch(/qemu\+ssh/);
    const listed = await router.invoke('listSources', {});
    expect(listed.ok && listed.value.map((s) => s.name)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });

  it('a refused URI already in the catalog is unreachable with the reason, and virsh never runs', async () => {
    const dir = tmp();
    const { program, marker } = trap(dir);
    const provider = new LibvirtProvider(`qemu+ext:///system?command=${program}`);
    const status = await provider.status();
    expect(status.state).toBe('unreachable');
    expect(status.message).toMatch(/ext/);
    await expect(provider.list()).rejects.toMatchObject({ code: 'LibvirtUriRefused' });
    expect(existsSync(marker)).toBe(false);
  });

  it('a test driver URI is still added and reachable', async () => {
    const dir = tmp();
    const { router } = open(path.join(dir, 'data'));
    const r = await router.invoke('addSource', { kind: 'libvirt', target: 'test:///default', region: 'lab', name: 'test' });
    expect(r.ok && r.value.state).toBe('reachable');
  });
});
