import { z } from 'zod';
import type { LabRecord } from '../../lab/records.ts';
import { LabError } from '../../lab/types.ts';
import type { SandboxHandle } from './sandbox.ts';

// A netns lab's handle in its record, parsed when a lab is opened rather than cast: a record from
// an older netdojo, or one edited by hand, fails with what is wrong instead of half-working.

const limitsSchema = z.object({
  cgroup: z.object({ version: z.union([z.literal(1), z.literal(2)]), dirs: z.partialRecord(z.enum(['pids', 'memory', 'cpu']), z.string()) }).optional(),
  nproc: z.number().int().optional(),
  why: z.string().optional(),
});

const handleSchema = z.object({
  sandbox: z.object({ holderPid: z.number().int(), holderStart: z.string(), initPid: z.number().int(), userns: z.boolean(), uidBase: z.number().int().optional(), limits: limitsSchema.optional(), layered: z.boolean().optional() }),
  /** The kind-style cluster name (contexts are `kind-<cluster>`). */
  cluster: z.string(),
  /** The admin bearer token of the lab's API. */
  token: z.string().min(16),
  /** The loopback port of the lab's API on the host, once the cluster host serves it. */
  port: z.number().int().optional(),
  /** Add-ons' manifests, created with the base cluster's objects when the cluster starts. */
  manifests: z.array(z.string()).optional(),
});

export type NetnsHandle = z.infer<typeof handleSchema> & { sandbox: SandboxHandle };

export function labHandle(record: Pick<LabRecord, 'id' | 'handle'>): NetnsHandle {
  const r = handleSchema.safeParse(record.handle);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new LabError(`lab ${record.id}: its record's handle is not a netns lab's (${issue.path.join('.') || 'handle'}: ${issue.message})`, 'remove it with `netdojo down --all`');
  }
  return r.data;
}
