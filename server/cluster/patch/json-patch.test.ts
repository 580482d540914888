import { describe, expect, it } from 'vitest';
import { ApiError } from '../object.ts';
import { applyJsonPatch } from './json-patch.ts';
import type { JsonObject } from './values.ts';

const doc = (): JsonObject => ({ metadata: { labels: { app: 'web' } }, spec: { list: ['a', 'b', 'c'], nested: { deep: [1] } } });

function failure(patch: unknown): ApiError {
  try {
    applyJsonPatch(doc(), patch);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('the patch applied');
}

describe('JSON patch operations', () => {
  it('inserts at an index and appends with "-"', () => {
    const result = applyJsonPatch(doc(), [{ op: 'add', path: '/spec/list/1', value: 'x' }, { op: 'add', path: '/spec/list/-', value: 'z' }]);
    expect((result.spec as JsonObject).list).toEqual(['a', 'x', 'b', 'c', 'z']);
  });

  it('moves an array item and copies deeply', () => {
    const result = applyJsonPatch(doc(), [
      { op: 'move', from: '/spec/list/0', path: '/spec/list/-' },
      { op: 'copy', from: '/spec/nested', path: '/spec/copy' },
      { op: 'add', path: '/spec/copy/deep/-', value: 2 },
    ]);
    expect(result.spec).toEqual({ list: ['b', 'c', 'a'], nested: { deep: [1] }, copy: { deep: [1, 2] } });
  });

  it('unescapes ~1 and ~0 in that order', () => {
    const result = applyJsonPatch(doc(), [{ op: 'add', path: '/metadata/labels/a~01', value: 'literal ~1' }]);
    expect((result.metadata as JsonObject).labels).toEqual({ app: 'web', 'a~1': 'literal ~1' });
  });

  it('applies all operations or none', () => {
    const input = doc();
    expect(() => applyJsonPatch(input, [{ op: 'remove', path: '/metadata/labels/app' }, { op: 'test', path: '/spec/list/0', value: 'nope' }])).toThrow(ApiError);
    expect(input).toEqual(doc());
  });
});

describe('JSON patch errors', () => {
  it('answers 400 for a body that is not a list of operations', () => {
    expect([failure({}).code, failure({}).message]).toEqual([400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch']);
    expect(failure(['add']).message).toBe('json: cannot unmarshal string into Go value of type jsonpatch.Operation');
  });

  it('answers 422 Invalid for an operation that does not apply', () => {
    const error = failure([{ op: 'replace', path: '/spec/list/3', value: 'x' }]);
    expect([error.code, error.reason, error.message]).toEqual([422, 'Invalid', "error in replace for path: '/spec/list/3': Unable to access invalid index: 3: invalid index referenced"]);
    expect(failure([{ op: 'remove', path: '/spec/list/-' }]).message).toBe("error in remove for path: '/spec/list/-': value was not a proper array index: '-'");
    expect(failure([{ op: 'add', path: '', value: {} }]).message).toBe('add operation does not apply: doc is missing path: "": missing value');
    expect(failure([{ op: 'add', path: '/spec/x' }]).message).toBe('add operation failed: missing value');
    expect(failure([{ op: 'remove' }]).message).toBe('remove operation failed to decode path: missing value');
  });

  it('answers 413 past 10000 operations', () => {
    const error = failure(Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/spec', value: null })));
    expect([error.code, error.reason]).toEqual([413, 'RequestEntityTooLarge']);
  });
});
