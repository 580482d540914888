// Waiting on a condition in a real lab: controllers converge, nothing in the tests sleeps.

/** Runs `probe` until what it prints matches `pattern`; throws with the last output after `ms`. */
export async function untilPrints(probe: () => Promise<string>, pattern: RegExp, what: string, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = await probe();
    if (pattern.test(last)) return last;
  }
  throw new Error(`${what} never printed ${pattern}; last: ${last}`);
}
