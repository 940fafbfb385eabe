import type { z } from 'zod';
import {
  ErrorCode,
  methods,
  type ApiError,
  type ArgsOf,
  type MethodName,
  type Methods,
  type ParsedArgsOf,
  type Result,
  type ResultOf,
} from '../../preload/contract.js';
import { COFFER_VERSION, type Engine } from '../core/engine.js';
import { CofferError, toApiError } from '../core/errors.js';
import { errorCatalog } from '../../preload/errors.js';
import { NotificationService } from '../core/notifications.js';
import { deploymentInfo } from '../core/deployment.js';

export type Face = 'electron' | 'browser' | 'cli';

type Handlers = { [M in MethodName]: (args: ParsedArgsOf<M>) => ResultOf<M> | Promise<ResultOf<M>> };

/** The one implementation of every method; the faces only carry calls to it. */
function handlers(engine: Engine, face: Face): Handlers {
  const notifications = new NotificationService(engine.db, engine.jobs, engine.events);
  return {
    engineInfo: () => ({ version: COFFER_VERSION, dataDir: engine.dataDir, face, platform: process.platform, keepsSecrets: engine.vaults.keepsSecrets }),
    listVaults: () => engine.vaults.list(),
    showVault: async ({ name }) => ({ ...(await engine.vaults.show(name)), policies: engine.protection.listPolicies(name) }),
    createVault: (args) => engine.vaults.create(args),
    unlockVault: ({ name, passphrase, remember }) => engine.vaults.unlock(name, passphrase, remember),
    setVaultKeyFile: ({ name, keyFile }) => engine.vaults.setKeyFile(name, keyFile),
    lockVault: ({ name }) => engine.vaults.lock(name),
    deleteVault: ({ name, deleteData }) => engine.vaults.delete(name, deleteData),
    addSource: (args) => engine.inventory.addSource(args),
    listSources: () => engine.inventory.listSources(),
    showSource: ({ name }) => engine.inventory.showSource(name),
    editSource: (args) => engine.inventory.editSource(args),
    removeSource: ({ name }) => engine.inventory.removeSource(name),
    discoverVms: ({ vault }) => engine.inventory.discover(vault),
    discoveryResult: ({ vault }) => engine.inventory.discoveryResult(vault),
    listVms: (args) => engine.inventory.listVms(args),
    registerVms: ({ vault, vms }) => engine.inventory.register(vault, vms),
    unregisterVms: ({ vault, vms }) => engine.inventory.unregister(vault, vms),
    listPolicies: ({ vault }) => engine.protection.listPolicies(vault),
    showPolicy: ({ vault, name }) => engine.protection.showPolicy(vault, name),
    createPolicy: ({ vault, name, spec }) => engine.protection.createPolicy(vault, name, spec),
    editPolicy: ({ vault, name, spec }) => engine.protection.editPolicy(vault, name, spec),
    deletePolicy: ({ vault, name }) => engine.protection.deletePolicy(vault, name),
    protectVms: ({ vault, vms, policy, newPolicy }) => engine.protection.protect(vault, vms, { policy, newPolicy }),
    changePolicy: ({ vm, policy }) => engine.protection.changePolicy(vm, policy),
    stopProtection: ({ vm, deleteData, confirmName }) => engine.protection.stopProtection(vm, deleteData, confirmName),
    resumeProtection: ({ vm }) => engine.protection.resumeProtection(vm),
    backupNow: ({ vms, retainUntil, fullRead }) => vms.map((vm) => engine.protection.backup(vm, { retainUntil, fullRead })),
    listPoints: ({ vm }) => engine.protection.listPoints(vm),
    restorePoint: ({ vm, pointId, ...how }) => engine.protection.restore(vm, pointId, how),
    testRestore: ({ vm, pointId, ...how }) => engine.protection.testRestore(vm, pointId, how),
    verifyVault: ({ vault, full }) => engine.protection.verify(vault, full),
    dashboard: () => engine.dashboard(),
    listProtectedItems: ({ vault }) => engine.protectedItems(vault),
    // Only the desktop window's own calls may open a dialog on the desktop, never the loopback console.
    pickFolder: async (o) => {
      if (face !== 'electron' || !engine.desktop) throw new CofferError('NotAvailableHere', 'A folder picker exists only in the desktop app.');
      return { path: await engine.desktop.pickFolder(o) };
    },
    listJobs: (q) => engine.jobs.query(q, q.vault === undefined ? undefined : engine.vaults.idOf(q.vault), q.vm === undefined ? undefined : engine.vmIdsMatching(q.vm)),
    showJob: ({ id }) => engine.jobs.get(id),
    cancelJob: ({ id }) => engine.jobs.cancel(id),
    troubleshooting: () => ErrorCode.options.map((code) => ({ code, ...errorCatalog[code] })),
    vaultsToUnlock: ({ vaults = [], vms = [] }) => {
      const needed = new Set(vaults.map((n) => n.toLowerCase()));
      const named = new Set(vms.flatMap((ref) => engine.vmIdsMatching(ref)));
      for (const vm of engine.inventory.allVms()) if (vm.vaultName && named.has(vm.id)) needed.add(vm.vaultName.toLowerCase());
      return engine.vaults.list().filter((v) => !v.unlocked && needed.has(v.name.toLowerCase())).map((v) => v.name);
    },
    backupAll: () => engine.protection.backupAll(),
    connectVault: (args) => engine.vaults.connect(args),
    disconnectVault: ({ name }) => engine.vaults.disconnect(name),
    associateVm: ({ vm, with: target }) => engine.inventory.associate(vm, target),
    listPendingProtections: ({ vault }) => engine.vaults.pendingProtections(vault),
    confirmProtections: ({ vault, vms }) => engine.inventory.confirmProtections(vault, vms),
    approveDiskPaths: ({ vm }) => engine.protection.approveDiskPaths(vm),
    listNotifications: ({ since, limit }) => notifications.list({ since, limit }),
    markNotificationsRead: ({ upTo, clear }) => notifications.markRead(upTo, clear),
    upgradeVault: ({ vault }) => engine.protection.upgradeVault(vault),
    listPointFiles: (a) => engine.protection.files.list(a),
    readPointFile: (a) => engine.protection.files.read(a),
    restorePointFiles: (a) => engine.protection.files.restore(a),
    deploymentInfo: () => deploymentInfo(engine.deployment),
  };
}

export interface Router {
  /** Validates `args` against the contract, runs the method, and never throws. */
  call(method: string, args: unknown): Promise<Result<unknown>>;
  /** The same call, typed from the contract (for in-process callers: the CLI and tests). */
  invoke<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<Result<ResultOf<M>>>;
}

export function createRouter(engine: Engine, face: Face): Router {
  const impl = handlers(engine, face) as Record<MethodName, (args: unknown) => unknown>;
  const router: Router = {
    invoke: (method, args) => router.call(method, args) as Promise<Result<ResultOf<typeof method>>>,
    async call(method, args) {
      if (typeof method !== 'string' || !Object.hasOwn(methods, method)) {
        return fail(new CofferError('UnknownMethod', `Unknown method ${JSON.stringify(method)}.`));
      }
      const spec = methods[method as MethodName] as Methods[MethodName];
      const parsed = (spec.args as z.ZodType).safeParse(args ?? {});
      if (!parsed.success) return { ok: false, error: invalidArgument(parsed.error) };
      try {
        const value = await impl[method as MethodName](parsed.data);
        // The result schema is the contract too: a handler that drifts from it is a bug caught here.
        const checked = (spec.result as z.ZodType).safeParse(value);
        if (!checked.success) {
          return fail(new CofferError('Internal', `The engine's answer to ${method} broke the contract: ${checked.error.message}`));
        }
        return { ok: true, value: checked.data };
      } catch (e) {
        return { ok: false, error: toApiError(e) };
      }
    },
  };
  return router;
}

function fail(e: CofferError): Result<never> {
  return { ok: false, error: e.toApiError() };
}

/** `InvalidArgument` naming every bad field, in the message and as structured details. */
export function invalidArgument(error: z.ZodError): ApiError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
  const text = issues.map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`).join('; ');
  return new CofferError('InvalidArgument', `Invalid argument: ${text}`, { issues }).toApiError();
}
