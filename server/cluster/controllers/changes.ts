// An informer hands its handlers the old object with the new one; a ControllerSpec's keysFor sees
// only the new one. A controller that must ignore changes it does not care about (node heartbeats,
// its own status writes) remembers what it last saw of the fields it reads.

/** Remembers `facts(o)` per key; says whether an event changed it (undefined: the object is gone). */
export function changeTracker<T>(facts: (o: T) => string): (key: string, o: T | undefined) => boolean {
  const seen = new Map<string, string>();
  return (key, o) => {
    const now = o === undefined ? undefined : facts(o);
    if (now === seen.get(key)) return false;
    if (now === undefined) seen.delete(key); else seen.set(key, now);
    return true;
  };
}
