import type { Engine } from '../core/engine.js';
import { createRouter } from '../rpc/router.js';
import { writeHostFile } from './host-file.js';
import { startConsoleServer, type ConsoleServer } from './server.js';

export interface HostingOptions {
  engine: Engine;
  /** The built renderer the console server serves. */
  staticDir: string;
  /** 0 or undefined: a free port. */
  port?: number;
  /** Run scheduled backups in this host (default true). */
  scheduler?: boolean;
}

export interface Hosting {
  readonly server: ConsoleServer;
  /** Stops the scheduler, removes host.json and closes the console server. */
  stop(): Promise<void>;
}

/**
 * What makes a process the host of a data folder, the same for `coffer serve` and the desktop app:
 * the loopback console server, host.json (so CLI processes hand their calls over) and the scheduler.
 */
export async function startHosting(opts: HostingOptions): Promise<Hosting> {
  const { engine } = opts;
  const server = await startConsoleServer({ engine, router: createRouter(engine, 'browser'), staticDir: opts.staticDir, port: opts.port ?? 0 });
  const removeHostFile = writeHostFile(engine.dataDir, { pid: process.pid, port: server.port, token: server.token });
  const stopScheduler = opts.scheduler === false ? () => undefined : engine.startScheduler();
  let stopping: Promise<void> | undefined;
  return {
    server,
    stop: () =>
      (stopping ??= (async () => {
        stopScheduler();
        removeHostFile();
        await server.close();
      })()),
  };
}
