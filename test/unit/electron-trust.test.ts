// The desktop shell's trust rules (main/electron/trust.ts, args.ts): pure, so tested in Node.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDirFromArgv } from '../../main/electron/args.js';
import { CONTENT_SECURITY_POLICY, isTrustedPageUrl, loopbackDevServer, mimeTypeOf, rendererFileFor } from '../../main/electron/trust.js';

describe('which pages may call the engine', () => {
  it.each([
    ['coffer://app/index.html', true],
    ['coffer://app/index.html#/jobs?status=Failed', true],
    ['coffer://app/', true],
    ['coffer://app/other.html', false],
    ['coffer://evil/index.html', false],
    ['file:///work/main/dist/renderer/index.html', false],
    ['https://example.com/index.html', false],
    ['http://127.0.0.1:5173/', false],
    ['about:blank', false],
    ['', false],
  ])('%s -> %s', (url, trusted) => {
    expect(isTrustedPageUrl(url)).toBe(trusted);
  });

  it('accepts a dev server only on loopback', () => {
    expect(isTrustedPageUrl('http://127.0.0.1:5173/#/vaults', 'http://127.0.0.1:5173/')).toBe(true);
    expect(isTrustedPageUrl('http://127.0.0.1:5174/', 'http://127.0.0.1:5173/')).toBe(false);
    expect(isTrustedPageUrl('http://192.168.1.9:5173/', 'http://192.168.1.9:5173/')).toBe(false);
    expect(loopbackDevServer('http://localhost:3000')?.origin).toBe('http://localhost:3000');
    expect(loopbackDevServer('file:///etc/passwd')).toBeUndefined();
    expect(loopbackDevServer('not a url')).toBeUndefined();
  });
});

describe('which files the app scheme serves', () => {
  const dir = path.resolve('/srv/coffer/dist/renderer');
  it.each([
    ['coffer://app/index.html', path.join(dir, 'index.html')],
    ['coffer://app/', path.join(dir, 'index.html')],
    ['coffer://app/app.js?v=1#x', path.join(dir, 'app.js')],
    ['coffer://app/assets/font%20one.woff2', path.join(dir, 'assets', 'font one.woff2')],
    // The URL parser resolves dot segments (also %2e%2e) against the root, which keeps them inside.
    ['coffer://app/../../package.json', path.join(dir, 'package.json')],
    ['coffer://app/%2e%2e/%2e%2e/package.json', path.join(dir, 'package.json')],
  ])('%s', (url, file) => {
    expect(rendererFileFor(url, dir)).toBe(file);
  });
  it.each([
    'coffer://app/..%2f..%2fpackage.json',
    'coffer://app/a%5c..%5c..%5csecret',
    'coffer://app/%00.html',
    'coffer://app/%E0%A4%A',
    'coffer://other/index.html',
    'file:///srv/coffer/dist/renderer/index.html',
    'nonsense',
  ])('refuses %s', (url) => {
    expect(rendererFileFor(url, dir)).toBeUndefined();
  });
  it('names the content types the console needs', () => {
    expect(mimeTypeOf('index.html')).toMatch(/^text\/html/);
    expect(mimeTypeOf('app.js')).toMatch(/^text\/javascript/);
    expect(mimeTypeOf('app.css')).toMatch(/^text\/css/);
    expect(mimeTypeOf('blob.bin')).toBe('application/octet-stream');
  });
  it('keeps the CSP strict: nothing remote, no inline scripts, no eval', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self';");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|https?:|\*/);
  });
});

describe('--data-dir on the command line', () => {
  it.each<[string[], string | undefined]>([
    [['/opt/electron', '.', '--data-dir', '/tmp/c'], '/tmp/c'],
    [['/opt/Coffer', '--data-dir=/tmp/c'], '/tmp/c'],
    [['/opt/electron', '--inspect=0', '.', '--data-dir', '/tmp/c', '--other'], '/tmp/c'],
    [['/opt/Coffer'], undefined],
    [['/opt/Coffer', '--data-dir'], undefined],
    [['/opt/Coffer', '--data-dir', '--hidden'], undefined],
    [['/opt/Coffer', '--data-dir='], undefined],
  ])('%j -> %s', (argv, expected) => {
    expect(dataDirFromArgv(argv)).toBe(expected);
  });
});
