/**
 * A pause between measured steps, not counted: the kernel frees a destroyed lab's namespaces and
 * the Docker engine finishes removals in the background, and that work would otherwise land on
 * whatever is measured next (on a 2-core machine: ~250 ms vs ~215 ms per netns up, back to back vs paused).
 */
export const SETTLE_MS = 1000;
export const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
