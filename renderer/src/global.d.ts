import type { CofferApi, Result } from '../../preload/contract.js';

declare global {
  interface Window {
    /** The engine API: from the Electron preload (contextBridge) or the browser bridge (preload/web.ts). */
    coffer: CofferApi;
    /** The browser console only (preload/web.ts): downloads files of a recovery point through the host. */
    cofferDownload?: (params: { vm: string; pointId: string; disk?: string; partition?: number; paths: string[] }) => Promise<Result<{ fileName: string; bytes: number }>>;
  }
}

export {};
