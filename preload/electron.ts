// The Electron face of `window.coffer`: every contract method becomes one ipcRenderer.invoke on
// the single call channel, events arrive on the single event channel. Sandboxed preloads may only
// require 'electron', so the contract is imported for its types alone and zod stays out of this
// bundle; the compiler still checks every name and channel against the contract (a method added
// to the contract but not listed here fails `satisfies CofferApi` below).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type * as Contract from './contract.js';
import type { ArgsOf, CofferApi, EventName, EventPayload, MethodName, Result, ResultOf } from './contract.js';

const IPC_CALL: typeof Contract.IPC_CALL = 'coffer:call';
const IPC_EVENT: typeof Contract.IPC_EVENT = 'coffer:event';

function call<M extends MethodName>(method: M) {
  return (args: ArgsOf<M>): Promise<Result<ResultOf<M>>> => ipcRenderer.invoke(IPC_CALL, method, args);
}

const api = {
  engineInfo: call('engineInfo'),
  listVaults: call('listVaults'),
  showVault: call('showVault'),
  createVault: call('createVault'),
  unlockVault: call('unlockVault'),
  lockVault: call('lockVault'),
  setVaultKeyFile: call('setVaultKeyFile'),
  deleteVault: call('deleteVault'),
  addSource: call('addSource'),
  listSources: call('listSources'),
  showSource: call('showSource'),
  editSource: call('editSource'),
  removeSource: call('removeSource'),
  discoverVms: call('discoverVms'),
  discoveryResult: call('discoveryResult'),
  listVms: call('listVms'),
  registerVms: call('registerVms'),
  unregisterVms: call('unregisterVms'),
  listJobs: call('listJobs'),
  showJob: call('showJob'),
  cancelJob: call('cancelJob'),
  troubleshooting: call('troubleshooting'),
  listPolicies: call('listPolicies'),
  showPolicy: call('showPolicy'),
  createPolicy: call('createPolicy'),
  editPolicy: call('editPolicy'),
  deletePolicy: call('deletePolicy'),
  protectVms: call('protectVms'),
  changePolicy: call('changePolicy'),
  stopProtection: call('stopProtection'),
  resumeProtection: call('resumeProtection'),
  backupNow: call('backupNow'),
  listPoints: call('listPoints'),
  restorePoint: call('restorePoint'),
  verifyVault: call('verifyVault'),
  dashboard: call('dashboard'),
  listProtectedItems: call('listProtectedItems'),
  pickFolder: call('pickFolder'),

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const relay = (_e: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (name === event) listener(payload as EventPayload<E>);
    };
    ipcRenderer.on(IPC_EVENT, relay);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT, relay);
    };
  },

  // The engine lives in this app's main process: it is reachable for as long as the window is.
  onConnection(listener: (connected: boolean) => void): () => void {
    listener(true);
    return () => {};
  },
} satisfies CofferApi;

contextBridge.exposeInMainWorld('coffer', api);
