import { alternate } from './alternate.ts';
import type { BenchContext } from './context.ts';
import type { Section, Userns } from './types.ts';

// 9. What a lab's user namespace costs as root: bare labs in a user namespace with a uid range of
// their own (the range claimed, the lab's directory handed to it, the state directory covered in
// the sandbox's mount namespace, every entry no_new_privs) and labs whose root is the host's,
// alternately. Unprivileged, every lab has a user namespace and there is nothing to compare with.

export const USERNS_LABS = { full: 10, quick: 3 };

export async function benchUserns(ctx: BenchContext): Promise<Section<Userns>> {
  if (process.getuid?.() !== 0) return { status: 'skipped', reason: 'not root: every lab has a user namespace (the caller\'s uid as its root)' };
  const runs = ctx.quick ? USERNS_LABS.quick : USERNS_LABS.full;
  const { sides, teardownErrors } = await alternate(ctx, 'userns', runs,
    { userns: { label: 'with a user namespace', opts: {} }, hostRoot: { label: 'as host root', opts: { hostRoot: true } } });
  return { status: 'ok', data: { runs, userns: sides.userns, hostRoot: sides.hostRoot, teardownErrors } };
}
