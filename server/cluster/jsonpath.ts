// The "simple JSON path" a CustomResourceDefinition's additionalPrinterColumns use (client-go's
// jsonpath without the template braces): field steps (`.spec.hostnames`, `['a.b']`), indexes
// (`[0]`), wildcards (`[*]`) and filters on a field (`[?(@.type=="Ready")]`, `!=` too). The API
// server refuses a column whose path it cannot parse; parseJsonPath says why.

type Step =
  | { op: 'field'; name: string }
  | { op: 'index'; index: number }
  | { op: 'all' }
  | { op: 'filter'; path: string[]; equals: boolean; value: string };

export type JsonPath = Step[];

const FIELD = /^\.([A-Za-z0-9_$-]+)/;
const QUOTED = /^\[\s*'([^']*)'\s*\]/;
const INDEX = /^\[\s*(-?\d+)\s*\]/;
const ALL = /^\[\s*\*\s*\]/;
const FILTER = /^\[\s*\?\(\s*@((?:\.[A-Za-z0-9_$-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^\s)]+))\s*\)\s*\]/;

/** The steps of a path, or an error message. */
export function parseJsonPath(text: string): JsonPath | { error: string } {
  const steps: Step[] = [];
  let rest = text.trim();
  if (!rest.startsWith('.') && !rest.startsWith('[')) return { error: 'must be a simple json path starting with .' };
  while (rest) {
    let m: RegExpExecArray | null;
    if ((m = FIELD.exec(rest))) steps.push({ op: 'field', name: m[1] });
    else if ((m = QUOTED.exec(rest))) steps.push({ op: 'field', name: m[1] });
    else if ((m = INDEX.exec(rest))) steps.push({ op: 'index', index: Number(m[1]) });
    else if ((m = ALL.exec(rest))) steps.push({ op: 'all' });
    else if ((m = FILTER.exec(rest))) steps.push({ op: 'filter', path: m[1].slice(1).split('.'), equals: m[2] === '==', value: m[3] ?? m[4] ?? m[5] });
    else if (rest === '.') break;
    else return { error: `unrecognized character in simple json path: ${JSON.stringify(rest[0])}` };
    rest = rest.slice(m[0].length);
  }
  return steps;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const fieldOf = (v: unknown, path: string[]) => path.reduce<unknown>((cur, name) => (isRecord(cur) ? cur[name] : undefined), v);

/** Every value the path finds in `value`, in document order; none where a step finds nothing. */
export function evaluate(path: JsonPath, value: unknown): unknown[] {
  let current: unknown[] = [value];
  for (const step of path) {
    current = current.flatMap((v): unknown[] => {
      switch (step.op) {
        case 'field': return isRecord(v) && v[step.name] !== undefined ? [v[step.name]] : [];
        case 'index': {
          if (!Array.isArray(v)) return [];
          const i = step.index < 0 ? v.length + step.index : step.index;
          return i >= 0 && i < v.length ? [v[i]] : [];
        }
        case 'all': return Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [];
        case 'filter': return Array.isArray(v) ? v.filter((item) => (String(fieldOf(item, step.path) ?? '') === step.value) === step.equals) : [];
      }
    });
  }
  return current;
}
