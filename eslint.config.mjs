// Lint, including the layering rules of docs/architecture.md ("Layers and their rules"):
// - only main/electron and preload/electron.ts may import 'electron';
// - the renderer and the browser-side preload may not import Node built-ins;
// - main/core imports nothing from main/rpc, main/host, main/cli or main/electron;
// - main/rpc imports nothing from main/host, main/cli or main/electron;
// - renderer/ and preload/ import nothing from main/;
// - no import cycles anywhere.
// Change a layer rule here and in docs/architecture.md together.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { builtinModules } from 'node:module';

const electronBan = {
  paths: [{ name: 'electron', message: 'Only main/electron and the preload may import electron (docs/architecture.md: one engine, three faces).' }],
  patterns: [{ group: ['electron/*'], message: 'Only main/electron and the preload may import electron.' }],
};
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const see = 'See docs/architecture.md, "Layers and their rules".';
const layerZones = [
  {
    target: './main/core',
    from: ['./main/rpc', './main/host', './main/cli', './main/electron'],
    message: `main/core is the engine: it may not import a transport or a face. ${see}`,
  },
  {
    target: './main/rpc',
    from: ['./main/host', './main/cli', './main/electron'],
    message: `main/rpc is the router over core: it may not import the host or a face. ${see}`,
  },
  {
    target: './renderer',
    from: ['./main'],
    message: `The renderer talks to the engine only through the preload contract. ${see}`,
  },
  {
    target: './preload',
    from: ['./main'],
    message: `The preload contract is shared by every face and may not import the engine. ${see}`,
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'test-results/**', '.bench/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['main/**/*.ts', 'preload/**/*.ts', 'renderer/**/*.{ts,tsx}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.mts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx', '.mts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
      // Runtime imports only (import-x skips `import type`); node_modules are not followed,
      // which keeps the lint fast.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['main/core/**', 'main/rpc/**', 'main/host/**', 'main/cli/**'],
    rules: { 'no-restricted-imports': ['error', electronBan] },
  },
  {
    files: ['renderer/**', 'preload/web.ts', 'preload/contract.ts', 'preload/errors.ts', 'preload/units.ts', 'preload/time-bounds.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...electronBan.paths,
            ...nodeBuiltins.map((name) => ({ name, message: 'The renderer runs in a browser sandbox: no Node built-ins.' })),
          ],
          patterns: electronBan.patterns,
        },
      ],
    },
  },
);
