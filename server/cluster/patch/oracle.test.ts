// Replays test/fixtures/patch/oracle.json: patches as kubectl sends them, with the result (or error)
// that real kubectl 1.33's own patch code produced for each (recorded by record-oracle.mjs).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../object.ts';
import { applyPatch, type PatchType } from '../patch.ts';
import { KindRegistry } from '../registry.ts';

const kinds = new KindRegistry();

interface OracleCase { name: string; fixture: string; type: PatchType; patch: unknown; expected?: object; error?: string }

const fixtures = new URL('../../../test/fixtures/patch/', import.meta.url);
const read = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));
const cases: OracleCase[] = read('oracle.json');

describe('patches agree with kubectl 1.33', () => {
  it.each(cases.filter((c) => c.expected).map((c) => [c.name, c] as const))('%s', (_, c) => {
    const live = read(c.fixture);
    const before = structuredClone(live);
    const result = applyPatch(kinds.byApiVersion(live.apiVersion, live.kind)!.kind, live, c.type, c.patch);
    expect(result).toStrictEqual(c.expected);
    expect(live).toStrictEqual(before);
  });

  it.each(cases.filter((c) => c.error).map((c) => [c.name, c] as const))('%s fails', (_, c) => {
    const live = read(c.fixture);
    let error: unknown;
    try {
      applyPatch(kinds.byApiVersion(live.apiVersion, live.kind)!.kind, live, c.type, c.patch);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message.trimEnd()).toBe(c.error);
  });
});
