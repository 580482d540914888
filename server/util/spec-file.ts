import { isMap, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';

// YAML files that people write (scenarios, exams) are user input: every problem is reported with
// the file, the path inside it, the line, and what was expected. Each kind of file has its own error
// class (ScenarioError, ExamError) over this one, so callers can tell which kind failed.

export type Path = (string | number)[];

export interface Problem { path: Path; message: string }

export class SpecFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SpecFileError';
  }
}

export const showPath = (path: Path) => path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '') || '(top level)';

function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: Path): number | undefined {
  // The deepest node that exists along the path: a missing field is reported where its parent is.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** zod's message, except for unknown fields, which are named. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

export interface SpecFileOptions {
  /** What the top level must hold, for the error when it is not a mapping ("id, title, checks, ..."). */
  fields: string;
  /** The error thrown for this kind of file. */
  error: new (file: string, problems: string[]) => SpecFileError;
  describe?: (issue: z.core.$ZodIssue) => string;
}

export interface ParsedSpecFile<T> {
  spec: T;
  /** "path (line N): message", the line found from the path. */
  at(path: Path, message: string): string;
  /** Throws the file's error when there are problems (found after parsing: cross-references). */
  check(problems: Problem[]): void;
}

/** Parses YAML text and validates it with `schema`; throws `opts.error` naming every problem's path and line. */
export function parseSpecFile<T extends z.ZodType>(file: string, text: string, schema: T, opts: SpecFileOptions): ParsedSpecFile<z.infer<T>> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true });
  if (doc.errors.length) throw new opts.error(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  if (!isMap(doc.contents)) throw new opts.error(file, [`expected a mapping of fields (${opts.fields}) at the top level`]);
  const at = (path: Path, message: string) => {
    const line = lineOf(doc, lc, path);
    return `${showPath(path)}${line ? ` (line ${line})` : ''}: ${message}`;
  };
  const parsed = schema.safeParse(doc.toJS());
  const describe = opts.describe ?? describeIssue;
  if (!parsed.success) throw new opts.error(file, parsed.error.issues.map((i) => at(i.path as Path, describe(i))));
  return {
    spec: parsed.data,
    at,
    check(problems) {
      if (problems.length) throw new opts.error(file, problems.map((p) => at(p.path, p.message)));
    },
  };
}
