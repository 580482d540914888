import { describe, expect, it } from 'vitest';
import { Cleanup } from './cleanup.ts';

describe('Cleanup', () => {
  it('undoes newest first, every step even when one fails, and reports the failures', async () => {
    const c = new Cleanup();
    const order: string[] = [];
    c.add('home', () => { order.push('home'); });
    c.add('lab a', async () => { order.push('lab a'); throw new Error('holder already gone'); });
    c.add('container', () => { order.push('container'); });
    expect(c.pending).toEqual(['home', 'lab a', 'container']);
    const errors = await c.run();
    expect(order).toEqual(['container', 'lab a', 'home']);
    expect(errors).toEqual(['lab a: holder already gone']);
    expect(c.pending).toEqual([]);
  });

  it('runs once: a second run (a signal during the final cleanup) does not undo twice', async () => {
    const c = new Cleanup();
    let n = 0;
    c.add('lab', async () => { await new Promise((r) => setTimeout(r, 5)); n++; });
    const [a, b] = await Promise.all([c.run(), c.run()]);
    expect(n).toBe(1);
    expect(a).toEqual([]);
    expect(b).toBe(a);
  });

  it('a step undone by hand is unregistered and not undone again', async () => {
    const c = new Cleanup();
    let n = 0;
    const remove = c.add('lab', () => { n++; });
    await c.now(remove, async () => { n++; });
    await c.run();
    expect(n).toBe(1);
    expect(c.pending).toEqual([]);
  });
});
