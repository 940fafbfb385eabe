// Every string an API call carries has a length bound (issue 10): an over-long name, passphrase,
// reference, path or URI is refused with InvalidArgument naming the field, through the router,
// before any engine code sees it. The test walks the contract itself, so a new unbounded string
// field fails it.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { methods, type MethodName } from '../../preload/contract.js';
import { Engine } from '../../main/core/engine.js';
import { createRouter, type Router } from '../../main/rpc/router.js';
import { useTmp } from '../helpers/tmp.js';

const tmp = useTmp();
let engine: Engine;
let router: Router;
beforeAll(() => {
  engine = Engine.open({ dataDir: path.join(tmp(), 'data') });
  router = createRouter(engine, 'cli');
});
afterAll(async () => {
  await engine.close();
});

const LONG = 'a'.repeat(100_000);

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** One argument per string field reachable in the schema: [path, args with only that field over-long]. */
function longFields(schema: z.ZodType, at: string[] = []): [string[], unknown][] {
  const s = unwrap(schema);
  if (s instanceof z.ZodString) return [[at, LONG]];
  if (s instanceof z.ZodArray) return longFields(s.element as z.ZodType, [...at, '0']).map(([p, v]) => [p, [v]]);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, field]) =>
      longFields(field, [...at, key]).map(([p, v]): [string[], unknown] => [p, { [key]: v }]),
    );
  }
  return [];
}

const cases = (Object.keys(methods) as MethodName[]).flatMap((method) =>
  longFields(methods[method].args as z.ZodType).map(([field, args]) => ({ method, field: field.join('.'), args })),
);

describe('string bounds in the contract', () => {
  it('finds the string fields it checks', () => {
    expect(cases.length).toBeGreaterThan(40);
    expect(cases.map((c) => `${c.method}.${c.field}`)).toEqual(expect.arrayContaining(['unlockVault.passphrase', 'showSource.name', 'registerVms.vms.0', 'restorePoint.defineOn']));
  });

  it.each(cases)('$method refuses an over-long $field with InvalidArgument', async ({ method, field, args }) => {
    const r = await router.call(method, args);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('InvalidArgument');
    const issues = (r.error.details?.issues ?? []) as { path: string[] }[];
    expect(issues.map((i) => i.path.join('.')), r.error.message.slice(0, 300)).toContain(field);
  });
});
