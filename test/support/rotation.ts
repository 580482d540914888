// The proofs too long to run whole on every CI run (every scenario under many seeds, as root and
// rootless) take a slice per run, chosen by the rotation: NETDOJO_ROTATION if set (to repeat a
// run), else the UTC day number, so consecutive days cover the rest. Tests name their slice.

const fromEnv = process.env.NETDOJO_ROTATION;
if (fromEnv !== undefined && !/^\d+$/.test(fromEnv)) throw new Error(`NETDOJO_ROTATION must be a whole number ≥ 0, got "${fromEnv}"`);

export const ROTATION = fromEnv !== undefined ? Number(fromEnv) : Math.floor(Date.now() / 86_400_000);

/** The items of this run's slice when a list is proven over `runs` runs. */
export const slice = <T>(items: readonly T[], runs: number): T[] => items.filter((_, i) => i % runs === ROTATION % runs);

/** The first seed of this run's seeds (1–999, 37 further each run). */
export const firstSeed = () => 1 + (ROTATION * 37) % 999;
