// The console's message files: English is the reference; Dutch must have exactly the same keys
// and, per key, the same {placeholders}. Also every key the code names literally must exist.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCatalog } from '../../preload/errors.js';
import { en } from '../../renderer/src/i18n/en.js';
import { format, translate, translateError } from '../../renderer/src/i18n/index.js';
import { nl, nlErrors } from '../../renderer/src/i18n/nl.js';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

export function compareCatalogs(reference: Record<string, string>, other: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(reference)) {
    if (!(key in other)) problems.push(`missing: ${key}`);
    else if (placeholders(reference[key]!).join(',') !== placeholders(other[key]!).join(',')) {
      problems.push(`placeholders differ: ${key}: {${placeholders(reference[key]!).join('},{')}} vs {${placeholders(other[key]!).join('},{')}}`);
    }
  }
  for (const key of Object.keys(other)) if (!(key in reference)) problems.push(`extra: ${key}`);
  return problems;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'i18n' ? [] : sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

describe('console messages', () => {
  it('Dutch has exactly the English keys with the same placeholders', () => {
    expect(compareCatalogs(en, nl)).toEqual([]);
  });

  it('the comparison catches a missing key, an extra key and a changed placeholder', () => {
    const ref = { a: 'Hello {name}', b: 'Bye', c: '{count} jobs' };
    expect(compareCatalogs(ref, { a: 'Hallo {naam}', c: '{count} taken', d: 'extra' }).sort()).toEqual(
      ['extra: d', 'missing: b', 'placeholders differ: a: {name} vs {naam}'].sort(),
    );
  });

  it('no message is empty and Dutch differs from English where it should', () => {
    for (const [key, text] of Object.entries(nl)) expect(text.trim(), key).not.toBe('');
    const same = Object.keys(en).filter((k) => en[k as keyof typeof en] === nl[k as keyof typeof nl] && /\s/.test(en[k as keyof typeof en]) && !/^\{/.test(en[k as keyof typeof en]));
    // Only a few sentences may read the same in both languages (e.g. "Engine {version}").
    expect(same.length, same.join(', ')).toBeLessThan(5);
  });

  it('every literal key used in the renderer exists', () => {
    const root = path.resolve(import.meta.dirname, '../../renderer/src');
    const missing: string[] = [];
    for (const file of sourceFiles(root)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z0-9_.-]+)'/g)) if (!(m[1]! in en)) missing.push(`${path.relative(root, file)}: ${m[1]}`);
    }
    expect(missing).toEqual([]);
  });

  it('Dutch translates every error code of the engine, and nothing else', () => {
    expect(Object.keys(nlErrors).sort()).toEqual(Object.keys(errorCatalog).sort());
  });

  it('fills placeholders and falls back to the engine text for untranslated error codes', () => {
    expect(format('{a} of {b}', { a: 1, b: 'x' })).toBe('1 of x');
    expect(translate('nl', 'notify.jobFailed', { operation: 'Back-up', subject: 'shop/web01' })).toBe('Back-up van shop/web01 mislukt');
    expect(translateError('en', { code: 'DiskUnreadable', message: 'm', remedy: 'r' })).toEqual({ message: 'm', remedy: 'r' });
    for (const [code, info] of Object.entries(nlErrors)) {
      expect(code in errorCatalog, code).toBe(true);
      expect(info!.message).not.toBe('');
    }
  });
});
