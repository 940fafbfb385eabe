import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCall, encodeEvent, encodeReply, parseCall, parseHostMessage } from '../../preload/wire.js';

describe('the wire format', () => {
  it('round-trips calls, replies and events', () => {
    const call = encodeCall(7, 'listVaults', {});
    expect(call.ok && parseCall(call.text)).toEqual({ ok: true, call: { id: 7, method: 'listVaults', args: {} } });
    expect(parseHostMessage(encodeReply(7, { ok: true, value: [1] }))).toEqual({ kind: 'reply', id: 7, result: { ok: true, value: [1] } });
    expect(parseHostMessage(encodeEvent('jobUpdated', { id: 1 }))).toEqual({ kind: 'event', event: 'jobUpdated', payload: { id: 1 } });
  });

  it('turns what is not a call into a typed error, keeping a usable id', () => {
    expect(parseCall('not json')).toMatchObject({ ok: false, id: null, error: { code: 'InvalidArgument' } });
    expect(parseCall('{"id":3}')).toMatchObject({ ok: false, id: 3, error: { code: 'InvalidArgument' } });
    expect(parseCall('[1,2]')).toMatchObject({ ok: false, id: null });
    expect(parseCall('{"id":1.5,"method":"x"}')).toMatchObject({ ok: false, id: null });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeCall(1, 'x', cyclic)).toMatchObject({ ok: false, error: { code: 'InvalidArgument' } });
  });

  it('never throws on any text, on either side', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.anything().map((v) => JSON.stringify(v) ?? '')), (text) => {
        expect(() => parseCall(text)).not.toThrow();
        const msg = parseHostMessage(text);
        if (msg?.kind === 'reply') expect(typeof msg.result.ok).toBe('boolean');
      }),
      { numRuns: 2000, seed: 42 },
    );
    // A host that answers with something else is ignored, not a crash of the CLI.
    for (const t of ['', 'null', '{"id":1,"result":"x"}', '{"id":1,"result":{"ok":false}}', `${'['.repeat(100_000)}`]) expect(parseHostMessage(t)).toBeUndefined();
  });
});
