import { describe, expect, it } from 'vitest';
import { CelError, compileRule } from './cel.ts';

const run = (rule: string, self: unknown, oldSelf?: unknown) => {
  const program = compileRule(rule);
  if (!program) throw new Error(`did not compile: ${rule}`);
  return program.run(self, oldSelf);
};

describe('CEL validation rules', () => {
  it('evaluate the Gateway API\'s rules as written upstream', () => {
    const pathRule = "(self.type in ['Exact', 'PathPrefix']) ? self.value.startsWith('/') : true";
    expect(run(pathRule, { type: 'PathPrefix', value: '/api' })).toBe(true);
    expect(run(pathRule, { type: 'Exact', value: 'api' })).toBe(false);
    expect(run(pathRule, { type: 'RegularExpression', value: 'api' })).toBe(true);
    const unique = 'self.all(l1, self.exists_one(l2, l1.name == l2.name))';
    expect(run(unique, [{ name: 'a' }, { name: 'b' }])).toBe(true);
    expect(run(unique, [{ name: 'a' }, { name: 'a' }])).toBe(false);
    const tls = "self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)";
    expect(run(tls, [{ protocol: 'HTTP' }, { protocol: 'HTTPS', tls: {} }])).toBe(true);
    expect(run(tls, [{ protocol: 'HTTP', tls: {} }])).toBe(false);
    expect(run('self.matches(r"""^(\\*\\.)?[a-z0-9]+$""")', '*.web')).toBe(true);
    expect(run("self.size() <= 3 && self.filter(x, x > 1).size() == 1 && self.map(x, x * 2)[0] == 2", [1, 2])).toBe(true);
  });

  it('compare with the old value in transition rules', () => {
    const program = compileRule('self == oldSelf')!;
    expect(program.usesOldSelf).toBe(true);
    expect(program.run('a', 'a')).toBe(true);
    expect(program.run('b', 'a')).toBe(false);
    expect(compileRule('self.size() > 0')!.usesOldSelf).toBe(false);
  });

  it('let a decisive side of && and || absorb an error on the other, as CEL does', () => {
    expect(run("has(self.tls) && self.tls.mode == 'Terminate' || !has(self.tls)", {})).toBe(true);
    expect(run('self.missing == 1 || true', {})).toBe(true);
    expect(() => run('self.missing == 1', {})).toThrow(CelError);
  });

  it('do not compile what the subset does not have', () => {
    expect(compileRule('self.x.optMap(v, v)')).toBeUndefined();
    expect(compileRule('quantity(self) > 0')).toBeUndefined();
    expect(compileRule('self.{a}')).toBeUndefined();
    expect(compileRule("'unterminated")).toBeUndefined();
  });
});
