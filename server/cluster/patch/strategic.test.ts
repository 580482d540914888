// Upstream's strategicpatch test cases (patch_test.go: the "Current + ThreeWay → Result" half, which
// is what a server applies), restated over a small schema like upstream's "mergeItem", plus the
// places where this implementation deliberately differs.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../object.ts';
import type { PatchSchema } from './merge-keys.ts';
import { strategicMerge } from './strategic.ts';
import type { JsonObject } from './values.ts';

const item: PatchSchema = {
  mergingList: { strategy: 'merge', mergeKey: 'name', fields: { mergingList: { strategy: 'merge', mergeKey: 'name' } } },
  mergingIntList: { strategy: 'merge' },
  volumes: { strategy: 'merge', mergeKey: 'name' },
};
const merge = (live: JsonObject, patch: JsonObject) => strategicMerge(live, patch, item);
const names = (list: unknown) => (list as { name: unknown }[]).map((i) => i.name);

function failure(live: JsonObject, patch: JsonObject): ApiError {
  try {
    merge(live, patch);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('the patch applied');
}

describe('list order', () => {
  it('keeps server-only items between the ones the patch orders', () => {
    const live: JsonObject = { mergingList: [{ name: 1, other: 'a' }, { name: 2 }, { name: 7 }, { name: 9 }, { name: 8 }, { name: 3 }, { name: 4 }] };
    const result = merge(live, { '$setElementOrder/mergingList': [{ name: 2 }, { name: 1 }, { name: 4 }, { name: 3 }] });
    expect(names(result.mergingList)).toEqual([2, 1, 7, 9, 8, 4, 3]);
    expect(result.mergingList).toContainEqual({ name: 1, other: 'a' });
  });

  it('orders a merged list of primitives, server-only values last', () => {
    const result = merge({ mergingIntList: [1, 2, 4] }, { '$setElementOrder/mergingIntList': [1, 2, 3], mergingIntList: [3] });
    expect(result.mergingIntList).toEqual([1, 2, 3, 4]);
  });

  it('groups duplicates at the first place the order names them', () => {
    const result = merge({ mergingIntList: [1, 2, 3, 2, 4] }, { '$setElementOrder/mergingIntList': [2, 1, 4, 3, 2] });
    expect(result.mergingIntList).toEqual([2, 2, 1, 4, 3]);
  });

  it('deletes from one list and reorders another in the same patch', () => {
    const live = { mergingList: [{ name: 'a' }, { name: 'b' }], volumes: [{ name: 'c' }, { name: 'd' }] };
    const result = merge(live, {
      '$setElementOrder/mergingList': [{ name: 'b' }],
      '$setElementOrder/volumes': [{ name: 'd' }, { name: 'c' }],
      mergingList: [{ '$patch': 'delete', name: 'a' }],
    });
    expect(result).toEqual({ mergingList: [{ name: 'b' }], volumes: [{ name: 'd' }, { name: 'c' }] });
  });

  it('rejects an order that names an item without its merge key', () => {
    expect(failure({ mergingList: [{ name: 'a' }] }, { '$setElementOrder/mergingList': [{ other: 'a' }], mergingList: [{ name: 'a' }] }).message)
      .toBe('map: map[other:a] does not contain declared merge key: name');
  });
});

describe('lists of primitives', () => {
  it('removes every copy of a deleted value, keeping values the patch did not mention', () => {
    const result = merge({ mergingIntList: [1, 2, 3, 3, 4] }, { '$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3] });
    expect(result.mergingIntList).toEqual([1, 2, 4]);
  });

  it('does not create a list to delete from', () => {
    expect(merge({ foo: ['bar'] }, { '$deleteFromPrimitiveList/mergingIntList': [3] })).toEqual({ foo: ['bar'] });
  });

  it('deletes from a list that has no merge strategy too', () => {
    expect(merge({ plain: [1, 2, 3] }, { '$deleteFromPrimitiveList/plain': [2] })).toEqual({ plain: [1, 3] });
  });

  it('rejects a deletion list that is not a list', () => {
    expect(failure({ mergingIntList: [1] }, { '$deleteFromPrimitiveList/mergingIntList': 1 }).message).toBe('invalid patch format of primitive list');
  });
});

describe('$retainKeys', () => {
  it('clears the fields a union no longer uses, in a list item', () => {
    const live: JsonObject = { volumes: [{ name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: { medium: 'Memory' } }] };
    const result = merge(live, { volumes: [{ '$retainKeys': ['configMap', 'name'], name: 'data', configMap: { name: 'settings' } }] });
    expect(result.volumes).toEqual([{ name: 'data', configMap: { name: 'settings' } }, { name: 'tmp', emptyDir: { medium: 'Memory' } }]);
  });

  it('rejects a list of keys that is not a list', () => {
    expect(failure({ a: 1 }, { '$retainKeys': 'a' }).code).toBe(400);
  });
});

describe('directives', () => {
  it('takes $patch: merge as the default it names (upstream rejects it)', () => {
    const live = { map: { a: 1, b: 2 }, mergingList: [{ name: 'x', v: 1 }] };
    const result = merge(live, { map: { '$patch': 'merge', b: 3 }, mergingList: [{ '$patch': 'merge' }, { name: 'x', v: 2 }] });
    expect(result).toEqual({ map: { a: 1, b: 3 }, mergingList: [{ name: 'x', v: 2 }] });
  });

  it('never stores directives or nulls of a value the live object lacks', () => {
    const result = merge({}, {
      mergingList: [{ name: 'new', mergingList: [{ '$patch': 'delete', name: 'gone' }, { name: 'kept' }], dropped: null }],
      map: { '$retainKeys': ['x'], x: 1, '$setElementOrder/l': [] },
      deleted: { '$patch': 'delete' },
    });
    expect(result).toEqual({ mergingList: [{ name: 'new', mergingList: [{ name: 'kept' }] }], map: { x: 1 } });
  });

  it('answers 422 for lists of lists', () => {
    const error = failure({ mergingIntList: [[1]] }, { mergingIntList: [[2]] });
    expect([error.code, error.reason, error.message]).toEqual([422, 'Invalid', 'lists of lists are not supported']);
  });

  it('requires the merge key on a $patch: delete item', () => {
    expect(failure({ mergingList: [{ name: 'a' }] }, { mergingList: [{ '$patch': 'delete' }] }).message)
      .toBe('map: map[$patch:delete] does not contain declared merge key: name');
  });
});

describe('values', () => {
  it('replaces a value whose type changed', () => {
    expect(merge({ mergingList: [{ name: 'a' }], m: { a: 1 } }, { mergingList: { x: 1 }, m: 'flat' })).toEqual({ mergingList: { x: 1 }, m: 'flat' });
  });

  it('leaves both arguments untouched', () => {
    const live = { mergingList: [{ name: 'a', v: 1 }], m: { a: 1 } };
    const patch: JsonObject = { '$setElementOrder/mergingList': [{ name: 'b' }, { name: 'a' }], mergingList: [{ name: 'b' }, { name: 'a', v: 2 }], m: { a: null } };
    const [liveCopy, patchCopy] = [structuredClone(live), structuredClone(patch)];
    merge(live, patch);
    expect([live, patch]).toEqual([liveCopy, patchCopy]);
  });

  it('treats "__proto__" as an ordinary field', () => {
    const result = merge({ m: {} }, JSON.parse('{"m":{"__proto__":{"polluted":true}},"__proto__":{"polluted":true}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.keys(result)).toEqual(['m', '__proto__']);
  });
});
