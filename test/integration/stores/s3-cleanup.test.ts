import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreCounters } from '../../../main/core/vault/remote.js';
import { S3Store } from '../../../main/core/vault/s3-store.js';
import { openStore } from '../../../main/core/vault/stores.js';
import { startS3rver, type Emulator } from '../../helpers/emulators.js';

/**
 * Abandoned multipart uploads (a writer that died mid-upload leaves parts that are billed but
 * never listed) are aborted when a vault opens. s3rver has no ListMultipartUploads (501): there the
 * sweep skips that part quietly, with one request. The abort logic itself runs against a server
 * on 127.0.0.1 that answers the two calls s3rver lacks as S3 documents them.
 */
describe('S3 abandoned multipart uploads', () => {
  let em: Emulator;
  beforeAll(async () => {
    em = await startS3rver();
  });
  afterAll(async () => {
    await em.dispose();
  });

  it('on a server without ListMultipartUploads (s3rver) skips quietly in one request and still removes stale probe objects', async () => {
    const store = await openStore(em.location('vaults', 'cleanup/v1'), { credentials: em.credentials, create: true });
    const counters = (store as unknown as { counters: StoreCounters }).counters;
    await store.put('probe/left-by-a-dead-probe', Buffer.from('probe 1'));

    const before = counters.requests;
    expect(await store.sweepTemp!(60 * 60 * 1000)).toBe(0); // an hour: the fresh probe object stays
    expect(counters.requests - before).toBe(2); // one ListMultipartUploads (501, not retried), one listing of probe/
    expect((await store.list('probe/')).map((o) => o.key)).toEqual(['probe/left-by-a-dead-probe']);

    // A horizon in the future makes every object "abandoned": the probe object goes.
    expect(await store.sweepTemp!(-60_000)).toBe(1);
    expect(await store.list('probe/')).toEqual([]);
  });

  it('aborts the uploads under the vault prefix started before the horizon, across pages, and keeps younger ones', async () => {
    const aborted: Array<{ key: string; uploadId: string }> = [];
    const listQueries: URLSearchParams[] = [];
    const old = '2020-01-01T00:00:00.000Z';
    const upload = (key: string, id: string, initiated: string): string =>
      `<Upload><Key>${key}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`;
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const bucketLevel = url.pathname === '/bucket' || url.pathname === '/bucket/';
      req.resume();
      const xml = (body: string): void => {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
      };
      if (req.method === 'GET' && bucketLevel && url.searchParams.has('uploads')) {
        listQueries.push(url.searchParams);
        const prefix = url.searchParams.get('prefix') ?? '';
        if (!url.searchParams.get('key-marker')) {
          return xml(
            `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bucket</Bucket><Prefix>${prefix}</Prefix>` +
              `<NextKeyMarker>${prefix}points/b</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>` +
              upload(`${prefix}points/a`, 'u1', old) +
              upload(`${prefix}points/b`, 'u2', new Date().toISOString()) +
              `</ListMultipartUploadsResult>`,
          );
        }
        return xml(
          `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bucket</Bucket><Prefix>${prefix}</Prefix>` +
            `<MaxUploads>2</MaxUploads><IsTruncated>false</IsTruncated>${upload(`${prefix}packs/cd/cd01`, 'u3', old)}</ListMultipartUploadsResult>`,
        );
      }
      if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
        aborted.push({ key: decodeURIComponent(url.pathname.slice('/bucket/'.length)), uploadId: url.searchParams.get('uploadId')! });
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'GET' && bucketLevel && url.searchParams.get('list-type') === '2') {
        return xml(
          `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>${url.searchParams.get('prefix') ?? ''}</Prefix>` +
            `<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
        );
      }
      res.writeHead(501);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const store = await S3Store.create({
        bucket: 'bucket',
        prefix: 'team/v',
        region: 'us-east-1',
        endpoint,
        credentials: { accessKeyId: 'KEY', secretAccessKey: 'SECRET' },
        location: 's3://bucket/team/v',
      });
      expect(await store.sweepTemp(60 * 60 * 1000)).toBe(2);
      expect(aborted).toEqual([
        { key: 'team/v/points/a', uploadId: 'u1' },
        { key: 'team/v/packs/cd/cd01', uploadId: 'u3' },
      ]);
      // Only this vault's uploads are asked for, and the second page continues after the first.
      expect(listQueries.map((q) => q.get('prefix'))).toEqual(['team/v/', 'team/v/']);
      expect(listQueries[1]!.get('key-marker')).toBe('team/v/points/b');
      expect(listQueries[1]!.get('upload-id-marker')).toBe('u2');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
