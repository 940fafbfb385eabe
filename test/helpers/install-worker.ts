// Child process of the concurrent-installs tests: one Coffer install (its own data folder and
// catalog) driven over the IPC channel, the way a console drives the engine through the router.
//   install-worker.ts DATA_DIR
// Requests (one reply each, {id, ok, value} or {id, ok: false, error: {code, message}}):
//   {id, op: 'invoke', method, args}   a contract method through createRouter(engine, 'cli')
//   {id, op: 'wait', jobs: [ids]}      waits until each job has finished; replies with the jobs
//   {id, op: 'reconcile', vault}       the catalog follows the vault now (as after each job)
//   {id, op: 'retention', vm, now}     the Prune job that runs after each backup, as of `now`
//   {id, op: 'close'}                  drains the jobs, closes the engine, and the process exits
// Object-store credentials come from the environment, as for a scheduled job.
import type { Job, Result } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import { toApiError } from '../../main/core/errors.js';
import { createRouter } from '../../main/rpc/router.js';

export type InstallRequest =
  | { id: number; op: 'invoke'; method: string; args: unknown }
  | { id: number; op: 'wait'; jobs: number[] }
  | { id: number; op: 'reconcile'; vault: string }
  | { id: number; op: 'retention'; vm: string; now: string }
  | { id: number; op: 'close' };

export type InstallReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { code: string; message: string } };

const engine = Engine.open({ dataDir: process.argv[2]! });
const router = createRouter(engine, 'cli');

async function handle(req: InstallRequest): Promise<Result<unknown>> {
  switch (req.op) {
    case 'invoke':
      return router.call(req.method, req.args);
    case 'wait': {
      const out: Job[] = [];
      for (const id of req.jobs) out.push(await engine.jobs.wait(id));
      return { ok: true, value: out };
    }
    case 'reconcile':
      return { ok: true, value: await engine.vaults.reconcileVault(engine.vaults.idOf(req.vault)) };
    case 'retention': {
      const [id] = engine.vmIdsMatching(req.vm);
      return { ok: true, value: engine.protection.applyRetention(id!, new Date(req.now)) };
    }
    case 'close':
      await engine.close();
      return { ok: true, value: null };
  }
}

process.on('message', (raw) => {
  const req = raw as InstallRequest;
  void handle(req)
    .catch((e: unknown): Result<unknown> => ({ ok: false, error: toApiError(e) }))
    .then((r) => {
      process.send!((r.ok ? { id: req.id, ok: true, value: r.value } : { id: req.id, ok: false, error: { code: r.error.code, message: r.error.message } }) satisfies InstallReply);
      if (req.op === 'close') process.disconnect();
    });
});
process.send!({ id: 0, ok: true, value: 'ready' } satisfies InstallReply);
