import type { CofferApi } from '../../preload/contract.js';

declare global {
  interface Window {
    /** The engine API: from the Electron preload (contextBridge) or the browser bridge (preload/web.ts). */
    coffer: CofferApi;
  }
}

export {};
