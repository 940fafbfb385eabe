// Lint, including the layering rules of DESIGN.md: only main/electron and preload/electron.ts
// may import 'electron', and the renderer may not import Node built-ins.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const electronBan = {
  paths: [{ name: 'electron', message: 'Only main/electron and the preload may import electron (DESIGN.md: one engine, three faces).' }],
  patterns: [{ group: ['electron/*'], message: 'Only main/electron and the preload may import electron.' }],
};
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

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
    files: ['main/core/**', 'main/rpc/**', 'main/host/**', 'main/cli/**'],
    rules: { 'no-restricted-imports': ['error', electronBan] },
  },
  {
    files: ['renderer/**', 'preload/web.ts', 'preload/contract.ts', 'preload/errors.ts'],
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
