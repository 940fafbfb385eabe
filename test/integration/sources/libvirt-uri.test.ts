import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiError, Result } from '../../../preload/contract.js';
import { Engine } from '../../../main/core/engine.js';
import { LibvirtProvider } from '../../../main/core/sources/libvirt.js';
import { createRouter } from '../../../main/rpc/router.js';
import { useTmp } from '../../helpers/tmp.js';

// A libvirt URI can name a program for virsh to run (ext transport, command=). Adding such a
// source, or scanning one already in the catalog, must refuse before virsh starts.
const tmp = useTmp();
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

function errorOf(r: Result<unknown>): ApiError {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  return (r as { ok: false; error: ApiError }).error;
}

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
    const engine = Engine.open({ dataDir: path.join(dir, 'data') });
    engines.push(engine);
    const router = createRouter(engine, 'cli');
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
    const engine = Engine.open({ dataDir: path.join(dir, 'data') });
    engines.push(engine);
    const router = createRouter(engine, 'cli');
    const r = await router.invoke('addSource', { kind: 'libvirt', target: 'test:///default', region: 'lab', name: 'test' });
    expect(r.ok && r.value.state).toBe('reachable');
  });
});
