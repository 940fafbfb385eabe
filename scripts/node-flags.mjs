// The V8 flags of every Node (and Electron) process that runs Coffer's engine: one list, read by
// `npm start` and the benchmarks; the launchers that cannot import it (bin/coffer.mjs's shebang,
// the host package's coffer.sh and coffer.service, electron-builder.yml's linux.executableArgs)
// carry the same words, and test/unit/node-flags.test.ts checks that they do.
//
// --single-threaded-gc: V8 collects on the thread that allocated, with no helper threads. The
// engine keeps both cores busy with its own workers; V8's parallel scavenges (a worker's young
// generation is collected every few MiB of chunk buffers) and concurrent marking then compete
// with them for the same cores and spend more CPU than they save. Measured on 4 GiB (2 cores,
// same run): restore 16.5 s -> 11.6 s (25.7 -> 19.0 CPU-s), full through the host 8.4 s -> 7.2 s,
// the changed-block incremental's V8 helper threads 0.4-0.7 -> 0.1-0.2 CPU-s; peak RSS unchanged.
// V8 reads its flags once, at start: `v8.setFlagsFromString` later aborts the process in a
// collection, so the flags must be on the command line.
export const NODE_FLAGS = ['--single-threaded-gc'];

/** Electron passes V8 flags to its main process (where the engine runs) only as --js-flags at its start. */
export const ELECTRON_FLAGS = [`--js-flags=${NODE_FLAGS.join(' ')}`];
