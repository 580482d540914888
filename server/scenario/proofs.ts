import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Document, parseDocument } from 'yaml';
import { z } from 'zod';
import { parseSpecFile, SpecFileError, type Problem } from '../util/spec-file.ts';

// Every scenario is proven on netns in every CI run; kind needs a real kind cluster, which CI does
// not have. A scenario's kind steps count as proven once `netdojo verify --provider kind --thorough
// --record` passed them on one, and this file (scenarios/kind-proofs.yaml) says when and on what.
// A scenario for kind that is not listed is unproven there: the catalog says so, and `netdojo up`
// warns before it starts one.

export const KIND_PROOFS_FILE = 'kind-proofs.yaml';

export const KindProof = z.strictObject({
  /** The day the proof ran (YYYY-MM-DD). */
  at: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD'),
  /** `kind version` of the host it ran on. */
  kind: z.string().min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
});
export type KindProof = z.infer<typeof KindProof>;

const KindProofs = z.record(z.string(), KindProof);

export class ProofsError extends SpecFileError {
  constructor(file: string, problems: string[]) {
    super(file, problems);
    this.name = 'ProofsError';
  }
}

/** The proofs by scenario id; ids must be scenarios of the catalog. An absent file proves nothing. */
export async function loadKindProofs(dir: string, ids: readonly string[]): Promise<Map<string, KindProof>> {
  const file = join(dir, KIND_PROOFS_FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined || !text.trim() || parseDocument(text).contents === null) return new Map();
  const parsed = parseSpecFile(file, text, KindProofs, { fields: '<scenario id>: { at, kind, seeds }', error: ProofsError });
  const known = new Set(ids);
  const problems: Problem[] = Object.keys(parsed.spec).filter((id) => !known.has(id)).map((id) => ({ path: [id], message: `no scenario "${id}" in the catalog` }));
  parsed.check(problems);
  return new Map(Object.entries(parsed.spec));
}

/** Records (or renews) a scenario's proof, keeping the file's comments and the other entries. */
export async function recordKindProof(dir: string, id: string, proof: KindProof): Promise<void> {
  const file = join(dir, KIND_PROOFS_FILE);
  const text = await readFile(file, 'utf8').catch(() => '');
  const doc = text.trim() ? parseDocument(text) : new Document({});
  if (doc.contents === null) doc.contents = doc.createNode({});
  doc.setIn([id], doc.createNode(KindProof.parse(proof), { flow: true }));
  await writeFile(file, doc.toString());
}
