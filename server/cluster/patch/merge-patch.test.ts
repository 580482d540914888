// RFC 7386's own examples (appendix A), and what the API server does with a non-object patch.
import { describe, expect, it } from 'vitest';
import { applyMergePatch } from './merge-patch.ts';
import type { JsonObject } from './values.ts';

describe('JSON merge patch', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ] as [JsonObject, JsonObject, JsonObject][])('%j + %j = %j', (doc, patch, result) => {
    const before = structuredClone(doc);
    expect(applyMergePatch(doc, patch)).toEqual(result);
    expect(doc).toEqual(before);
  });

  it('answers 400 for a patch that is not an object', () => {
    expect(() => applyMergePatch({}, ['a'])).toThrow(expect.objectContaining({ code: 400, message: 'Invalid JSON Patch' }));
  });
});
