// What the job-query benchmark needs from the engine, bundled by test/bench/run.mjs.
export { openCatalog } from '../../main/core/catalog/catalog.js';
export { EngineEvents } from '../../main/core/events.js';
export { JobService } from '../../main/core/jobs.js';
