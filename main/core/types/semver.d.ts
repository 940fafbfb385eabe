// The part of semver (a dependency of electron-updater, which compares versions with it) that
// main/core/update-decision.ts uses; semver ships no types of its own.
declare module 'semver' {
  export function valid(version: string): string | null;
  export function gt(a: string, b: string): boolean;
  export function eq(a: string, b: string): boolean;
}
