import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Job, RestoreFormat } from '../../../preload/contract.js';
import { CofferError } from '../errors.js';
import { label } from '../inventory.js';
import { defineVm } from '../sources/capabilities.js';
import type { ProtectionContext } from './context.js';
import { writeLibvirtDefinition } from './as-libvirt.js';
import { convertRestoredDisks, type ConvertedDisk } from './convert.js';
import { renameRestoredVm, retargetDefinition } from './definition.js';
import { replaceDisks } from './replace-disks.js';
import { writeOriginalFormats } from './stored-form.js';

export interface RestoreHow {
  mode: 'disks' | 'newVm' | 'replaceDisks';
  targetDir?: string | undefined;
  newName?: string | undefined;
  defineOn?: string | undefined;
  /** Convert the restored disks to this format (default: as backed up; qcow2 for a foreign VM defined on libvirt). */
  format?: RestoreFormat | undefined;
}

/** Restore (W23): to an empty folder, as a new VM (optionally defined on a hypervisor), or over the VM's own disks. */
export class RestoreService {
  constructor(private readonly ctx: ProtectionContext) {}

  restore(ref: string, pointId: string, how: RestoreHow): Job {
    const vm = this.ctx.registeredVm(ref);
    const point = this.ctx.pointRows(vm.id).find((p) => p.id === pointId);
    if (!point) throw new CofferError('RecoveryPointNotFound', `${label(vm)} has no recovery point ${pointId}.`);
    if (how.mode === 'replaceDisks') return replaceDisks(this.ctx, vm, pointId);
    if (!how.targetDir) throw new CofferError('InvalidArgument', 'targetDir: a target folder is required.', { field: 'targetDir' });
    if (how.mode === 'newVm' && !how.newName) throw new CofferError('InvalidArgument', 'newName: a restored VM needs a new name.', { field: 'newName' });
    const target = path.resolve(how.targetDir);
    const newName = how.newName ?? vm.name;
    // Never overwrite: the target must be empty or absent.
    if (fs.existsSync(target) && fs.readdirSync(target).length > 0) {
      throw new CofferError('RestoreTargetNotEmpty', `The folder ${target} is not empty.`, { field: 'targetDir' });
    }
    return this.ctx.jobs.start('Restore', this.ctx.subject(vm), async (job) => {
      const vault = await this.ctx.vaults.openVault(vm.vaultName);
      const defName = (await vault.readManifest(pointId)).definition?.fileName;
      // A VM of another hypervisor defined on libvirt gets qcow2 disks unless a format is asked for.
      const foreign = how.mode === 'newVm' && !!how.defineOn && !!defName && !/\.xml$/i.test(defName);
      const format = how.format ?? (foreign ? 'qcow2' : undefined);
      const phases = format ? 2 : 1;
      const result = await vault.restore(pointId, target, {
        signal: job.signal,
        onProgress: (p) => job.progress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal * phases, bytesPerSecond: p.bytesPerSecond }),
      });
      // Disks stored as the guest saw them are written back in their original format (qcow2, ...).
      await writeOriginalFormats(await vault.readManifest(pointId), new Map(result.files.map((f) => [f.name, f.path])), job.signal);
      let converted: ConvertedDisk[] | undefined;
      if (format) {
        const disks = result.files.filter((f) => f.name !== defName).map((f) => f.name);
        converted = await convertRestoredDisks(target, disks, format, {
          signal: job.signal,
          onProgress: (f) => job.progress({ bytesDone: result.bytes + f * result.bytes, bytesTotal: result.bytes * 2 }),
        });
      }
      // Disks only: the definition beside them names the converted files too.
      if (converted && defName && how.mode === 'disks') retargetDefinition(path.join(target, defName), converted);
      let defined: { definedAs: string; definedOn: string } | undefined;
      if (how.mode === 'newVm') {
        let definition = await renameRestoredVm(vault, pointId, target, newName);
        if (definition && converted) retargetDefinition(definition, converted);
        if (definition && foreign && how.defineOn) {
          definition = await writeLibvirtDefinition({ definitionFile: definition, target, newName, uri: how.defineOn, disks: converted ?? [] });
        }
        if (how.defineOn) {
          if (!definition?.endsWith('.xml')) throw new CofferError('InvalidArgument', 'defineOn: the point has no libvirt definition to define.');
          await defineVm(how.defineOn, definition).catch((e: unknown) => {
            if (e instanceof CofferError) throw new CofferError(e.code, `Restored to ${target}, but ${e.message}`, { ...e.details, target });
            throw e;
          });
          defined = { definedAs: newName, definedOn: how.defineOn };
        }
      }
      const definedAs = defined?.definedAs ?? null;
      const definedOn = defined?.definedOn ?? null;
      if (format && converted) {
        return {
          summary: { code: 'RestoreConverted', params: { vm: label(vm), pointId, target, format, disks: converted.length, definedAs, definedOn } },
          details: { ...result, target, converted },
        };
      }
      return {
        summary: { code: 'RestoreDone', params: { vm: label(vm), pointId, target, definedAs, definedOn } },
        details: { ...result, target },
      };
    });
  }
}
