// The policy schema is part of the API contract (the console validates with it too), so it lives in
// preload/; the engine imports it from here.
export * from '../../../preload/policy.js';
