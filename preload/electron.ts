// The Electron face of `window.coffer`: every contract method becomes one ipcRenderer.invoke on
// the single call channel, events arrive on the single event channel. Sandboxed preloads may only
// require 'electron', so the contract is imported for its types alone and zod stays out of this
// bundle. The methods come from the zod-free method list, like the browser bridge's; the contract
// checks at compile time that the list names exactly its methods.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type * as Contract from './contract.js';
import type { CofferApi, EventName, EventPayload, MethodName } from './contract.js';
import { methodNameList } from './method-names.js';

const IPC_CALL: typeof Contract.IPC_CALL = 'coffer:call';
const IPC_EVENT: typeof Contract.IPC_EVENT = 'coffer:event';

const callers = {} as { [M in MethodName]: CofferApi[M] };
for (const method of methodNameList) {
  (callers as Record<string, unknown>)[method] = (args: unknown) => ipcRenderer.invoke(IPC_CALL, method, args);
}

const api = {
  ...callers,

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
