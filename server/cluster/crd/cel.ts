// The part of CEL (the Common Expression Language) that CRD validation rules
// (x-kubernetes-validations) are written in: literals (numbers, strings with their raw and
// triple-quoted forms, booleans, null, lists), `self` and `oldSelf`, field selection and indexing,
// has(), the operators (! - * / % + < <= > >= == != in && || ?:), size(), startsWith, endsWith,
// contains, matches, and the macros all, exists, exists_one, map and filter. A rule using anything
// else does not compile, and the API server's caller then leaves it unchecked rather than refuse
// what a real cluster would accept.

type Value = unknown;

export class CelError extends Error {}

type Node =
  | { op: 'lit'; value: Value }
  | { op: 'ident'; name: string }
  | { op: 'list'; items: Node[] }
  | { op: 'member'; target: Node; name: string }
  | { op: 'index'; target: Node; index: Node }
  | { op: 'call'; name: string; target?: Node; args: Node[] }
  | { op: 'unary'; operator: '!' | '-'; operand: Node }
  | { op: 'binary'; operator: string; left: Node; right: Node }
  | { op: 'cond'; test: Node; then: Node; else: Node };

// ---------------------------------------------------------------------------------------------
// Tokens

type Token = { kind: 'num' | 'str' | 'ident' | 'punct'; text: string; value?: Value };

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '?', ':', '.', ',', '(', ')', '[', ']', '+', '-', '*', '/', '%'];

function unescape(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    if (e[0] === 'u' || e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '`': '`', '?': '?' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) { i += space[0].length; continue; }
    const str = /^([rR]?)('''|"""|'|")/.exec(rest);
    if (str) {
      const [open, raw, quote] = str;
      let j = open.length;
      while (j < rest.length && !rest.startsWith(quote, j)) j += !raw && rest[j] === '\\' ? 2 : 1;
      if (j >= rest.length) throw new CelError('unterminated string');
      const body = rest.slice(open.length, j);
      tokens.push({ kind: 'str', text: rest.slice(0, j + quote.length), value: raw ? body : unescape(body) });
      i += j + quote.length;
      continue;
    }
    const num = /^(\d+\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)|0x[0-9a-fA-F]+|\d+)u?/.exec(rest);
    if (num) { tokens.push({ kind: 'num', text: num[0], value: Number(num[1]) }); i += num[0].length; continue; }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (ident) { tokens.push({ kind: 'ident', text: ident[0] }); i += ident[0].length; continue; }
    const punct = PUNCT.find((p) => rest.startsWith(p));
    if (!punct) throw new CelError(`unexpected character ${JSON.stringify(rest[0])}`);
    tokens.push({ kind: 'punct', text: punct });
    i += punct.length;
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parsing (precedence climbing: ?: then || && relations + - * / % unary member)

const FUNCTIONS = new Set(['has', 'size', 'startsWith', 'endsWith', 'contains', 'matches', 'all', 'exists', 'exists_one', 'map', 'filter']);

/** A call of a function this subset has (others do not compile). */
function callNode(name: string, args: Node[], target?: Node): Node {
  if (!FUNCTIONS.has(name)) throw new CelError(`undeclared reference to '${name}'`);
  return { op: 'call', name, args, ...(target ? { target } : {}) };
}

const BINARY: Record<string, number> = { '||': 1, '&&': 2, '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, in: 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5 };

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined { return this.tokens[this.pos]; }
  private is(text: string): boolean { const t = this.peek(); return !!t && (t.kind === 'punct' || t.kind === 'ident') && t.text === text; }
  private take(text?: string): Token {
    const t = this.tokens[this.pos];
    if (!t || (text !== undefined && t.text !== text)) throw new CelError(`expected ${text ?? 'more'} at ${t ? JSON.stringify(t.text) : 'the end'}`);
    this.pos++;
    return t;
  }

  parse(): Node {
    const node = this.conditional();
    if (this.pos < this.tokens.length) throw new CelError(`unexpected ${JSON.stringify(this.tokens[this.pos].text)}`);
    return node;
  }

  private conditional(): Node {
    const test = this.binary(1);
    if (!this.is('?')) return test;
    this.take('?');
    const then = this.conditional();
    this.take(':');
    return { op: 'cond', test, then, else: this.conditional() };
  }

  private binary(min: number): Node {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      const prec = t && (t.kind === 'punct' || t.text === 'in') ? BINARY[t.text] : undefined;
      if (prec === undefined || prec < min) return left;
      this.take();
      left = { op: 'binary', operator: t!.text, left, right: this.binary(prec + 1) };
    }
  }

  private unary(): Node {
    if (this.is('!')) { this.take(); return { op: 'unary', operator: '!', operand: this.unary() }; }
    if (this.is('-')) { this.take(); return { op: 'unary', operator: '-', operand: this.unary() }; }
    return this.postfix(this.primary());
  }

  private args(): Node[] {
    this.take('(');
    const args: Node[] = [];
    while (!this.is(')')) {
      args.push(this.conditional());
      if (!this.is(')')) this.take(',');
    }
    this.take(')');
    return args;
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.is('.')) {
        this.take('.');
        const name = this.take().text;
        node = this.is('(') ? callNode(name, this.args(), node) : { op: 'member', target: node, name };
      } else if (this.is('[')) {
        this.take('[');
        const index = this.conditional();
        this.take(']');
        node = { op: 'index', target: node, index };
      } else return node;
    }
  }

  private primary(): Node {
    const t = this.take();
    if (t.kind === 'num' || t.kind === 'str') return { op: 'lit', value: t.value };
    if (t.kind === 'ident') {
      if (t.text === 'true' || t.text === 'false') return { op: 'lit', value: t.text === 'true' };
      if (t.text === 'null') return { op: 'lit', value: null };
      return this.is('(') ? callNode(t.text, this.args()) : { op: 'ident', name: t.text };
    }
    if (t.text === '(') { const inner = this.conditional(); this.take(')'); return inner; }
    if (t.text === '[') {
      const items: Node[] = [];
      while (!this.is(']')) { items.push(this.conditional()); if (!this.is(']')) this.take(','); }
      this.take(']');
      return { op: 'list', items };
    }
    throw new CelError(`unexpected ${JSON.stringify(t.text)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

type Scope = Record<string, Value>;
const isRecord = (v: Value): v is Record<string, Value> => typeof v === 'object' && v !== null && !Array.isArray(v);

const equal = (a: Value, b: Value): boolean => JSON.stringify(a) === JSON.stringify(b);

function boolean(v: Value): boolean {
  if (typeof v !== 'boolean') throw new CelError('no such overload: a condition must be a bool');
  return v;
}

function field(target: Value, name: string): Value {
  if (!isRecord(target) || !(name in target)) throw new CelError(`no such key: ${name}`);
  return target[name];
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

function evaluate(node: Node, scope: Scope): Value {
  switch (node.op) {
    case 'lit': return node.value;
    case 'ident':
      if (!(node.name in scope)) throw new CelError(`undeclared reference to '${node.name}'`);
      return scope[node.name];
    case 'list': return node.items.map((n) => evaluate(n, scope));
    case 'member': return field(evaluate(node.target, scope), node.name);
    case 'index': {
      const target = evaluate(node.target, scope);
      const index = evaluate(node.index, scope);
      if (Array.isArray(target) && typeof index === 'number') {
        if (index < 0 || index >= target.length) throw new CelError('index out of bounds');
        return target[index];
      }
      return field(target, String(index));
    }
    case 'unary': {
      const v = evaluate(node.operand, scope);
      if (node.operator === '!') return !boolean(v);
      if (typeof v !== 'number') throw new CelError('no such overload: -');
      return -v;
    }
    case 'cond': return boolean(evaluate(node.test, scope)) ? evaluate(node.then, scope) : evaluate(node.else, scope);
    case 'binary': return binary(node, scope);
    case 'call': return call(node, scope);
  }
}

function binary(node: Extract<Node, { op: 'binary' }>, scope: Scope): Value {
  // && and || are commutative in CEL: an error on one side is absorbed by a decisive other side.
  if (node.operator === '&&' || node.operator === '||') {
    const decisive = node.operator === '||';
    let failure: unknown;
    for (const side of [node.left, node.right]) {
      try { if (boolean(evaluate(side, scope)) === decisive) return decisive; } catch (e) { failure = e; }
    }
    if (failure) throw failure;
    return !decisive;
  }
  const a = evaluate(node.left, scope);
  const b = evaluate(node.right, scope);
  switch (node.operator) {
    case '==': return equal(a, b);
    case '!=': return !equal(a, b);
    case 'in':
      if (Array.isArray(b)) return b.some((x) => equal(x, a));
      if (isRecord(b)) return typeof a === 'string' && a in b;
      throw new CelError('no such overload: in');
    case '+':
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      if (typeof a === 'number' && typeof b === 'number') return a + b;
      throw new CelError('no such overload: +');
  }
  if (typeof a === 'number' && typeof b === 'number') {
    switch (node.operator) {
      case '-': return a - b;
      case '*': return a * b;
      case '/': if (b === 0) throw new CelError('division by zero'); return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
      case '%': if (b === 0) throw new CelError('modulus by zero'); return a % b;
    }
  }
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) {
    switch (node.operator) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      case '>=': return a >= b;
    }
  }
  throw new CelError(`no such overload: ${node.operator}`);
}

function call(node: Extract<Node, { op: 'call' }>, scope: Scope): Value {
  if (node.name === 'has' && !node.target) {
    const [arg] = node.args;
    if (node.args.length !== 1 || arg.op !== 'member') throw new CelError('has() takes a field selection');
    const target = evaluate(arg.target, scope);
    return isRecord(target) && arg.name in target;
  }
  if (node.target && MACROS.has(node.name)) return macro(node.name, evaluate(node.target, scope), node.args, scope);
  const target = node.target ? [evaluate(node.target, scope)] : [];
  const [self, ...args] = [...target, ...node.args.map((a) => evaluate(a, scope))];
  const str = (v: Value) => { if (typeof v !== 'string') throw new CelError(`no such overload: ${node.name}`); return v; };
  switch (node.name) {
    case 'size':
      if (typeof self === 'string') return [...self].length;
      if (Array.isArray(self)) return self.length;
      if (isRecord(self)) return Object.keys(self).length;
      throw new CelError('no such overload: size');
    case 'startsWith': return str(self).startsWith(str(args[0]));
    case 'endsWith': return str(self).endsWith(str(args[0]));
    case 'contains': return str(self).includes(str(args[0]));
    case 'matches': return new RegExp(str(args[0]), 'u').test(str(self));
    default: throw new CelError(`no such overload: ${node.name}`);
  }
}

function macro(name: string, target: Value, args: Node[], scope: Scope): Value {
  const [variable, body] = args;
  if (args.length !== 2 || variable.op !== 'ident') throw new CelError(`${name}() takes a variable and an expression`);
  const items = Array.isArray(target) ? target : isRecord(target) ? Object.keys(target) : undefined;
  if (!items) throw new CelError(`no such overload: ${name}`);
  const run = (item: Value) => evaluate(body, { ...scope, [variable.name]: item });
  switch (name) {
    case 'all': return items.every((i) => boolean(run(i)));
    case 'exists': return items.some((i) => boolean(run(i)));
    case 'exists_one': return items.filter((i) => boolean(run(i))).length === 1;
    case 'map': return items.map(run);
    default: return items.filter((i) => boolean(run(i)));
  }
}

export interface CelProgram {
  /** Whether the rule compares with the old value (a transition rule, checked on updates only). */
  readonly usesOldSelf: boolean;
  /** The rule's result for `self` (and `oldSelf`); throws CelError when evaluation fails. */
  run(self: Value, oldSelf?: Value): boolean;
}

const programs = new Map<string, CelProgram | undefined>();

/** The compiled rule, or undefined when it uses what this subset does not have. */
export function compileRule(rule: string): CelProgram | undefined {
  if (!programs.has(rule)) {
    let program: CelProgram | undefined;
    try {
      const ast = new Parser(tokenize(rule)).parse();
      program = { usesOldSelf: /\boldSelf\b/.test(rule), run: (self, oldSelf) => boolean(evaluate(ast, { self, oldSelf })) };
    } catch { program = undefined; }
    programs.set(rule, program);
  }
  return programs.get(rule);
}
