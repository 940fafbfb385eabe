// Types of node-flags.mjs for the TypeScript tests that check the launchers against it.
export declare const NODE_FLAGS: readonly string[];
export declare const ELECTRON_FLAGS: readonly string[];
