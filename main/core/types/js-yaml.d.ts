// The part of js-yaml (electron-builder's and electron-updater's YAML parser) the tests use.
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
