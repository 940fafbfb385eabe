import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexListing } from '../../../main/core/vault/index-listing.js';
import { LocalFolderStore } from '../../../main/core/vault/local-store.js';

const hex = (): string => randomBytes(16).toString('hex');
let dir: string | undefined;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('IndexListing (one compact listing of index/)', () => {
  it('holds the listed pack ids sorted, with their sizes, and keeps other names apart', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-listing-'));
    const store = new LocalFolderStore(dir);
    // More than one page of the folder's listing (1000) and more than the first buffer (4096).
    const ids = Array.from({ length: 5000 }, hex);
    // Written as the folder store lays them out (its put fsyncs each: too slow for 5,000 here).
    fs.mkdirSync(path.join(dir, 'index'));
    fs.mkdirSync(path.join(dir, 'packs', 'ab'), { recursive: true });
    for (const [i, id] of ids.entries()) fs.writeFileSync(path.join(dir, 'index', id), Buffer.alloc(i % 7));
    fs.writeFileSync(path.join(dir, 'index', 'not-a-pack'), 'x');
    fs.writeFileSync(path.join(dir, 'index', '.tmp-0123'), 'x'); // a writer's temp file: never listed
    fs.writeFileSync(path.join(dir, 'packs', 'ab', 'abcd'), 'x');
    const l = await IndexListing.read(store);
    expect(l.count).toBe(5000);
    expect(l.odd).toEqual(['not-a-pack']);
    const sorted = [...ids].sort();
    expect(Array.from({ length: l.count }, (_, i) => l.id(i))).toEqual(sorted);
    expect(l.size(sorted.indexOf(ids[3]!))).toBe(3);
    expect(ids.every((id) => l.has(id))).toBe(true);
    expect(l.has(hex())).toBe(false);
    expect(l.has('not-a-pack')).toBe(true);
  });

  it('tells which listed packs are new and which known ones are gone, by one merge', () => {
    const ids = Array.from({ length: 50 }, hex).sort();
    const listing = IndexListing.of(ids.slice(10).map((packId) => ({ packId, size: 1 })));
    const gone = ids.slice(0, 10);
    const known = [...gone, ...ids.slice(10, 30)].sort();
    const { fresh, gone: lost } = listing.diff(known);
    expect(lost).toEqual(gone);
    expect(Array.from(fresh, (i) => listing.id(i))).toEqual(ids.slice(30));
    expect(listing.diff([]).fresh.length).toBe(40);
    expect(IndexListing.of([]).diff(gone).gone).toEqual(gone);
  });

  it('lists an id once even when the store lists it twice', () => {
    const id = hex();
    const l = IndexListing.of([{ packId: id, size: 5 }, { packId: id, size: 5 }]);
    expect(l.count).toBe(1);
    expect(l.has(id)).toBe(true);
  });
});
