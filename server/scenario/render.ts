import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import type { Check } from '../../grader/types.ts';
import { ADDONS, addonManifests, withNeeds, type AddonName } from '../lab/addons.ts';
import type { LabFacts, ProviderName } from '../lab/types.ts';
import type { LoadedScenario } from './load.ts';
import { checkRunsOn, isStepList, type Attempt, type MatrixCheck, type PerProvider, type Step } from './schema.ts';

// A scenario becomes concrete for one lab: the seed picks the variant (which node, which MTU...),
// and every template is rendered with the lab's real facts, so briefings and checks name real IPs.

export type Variant = Record<string, string | number>;

export interface RenderedScenario {
  id: string;
  title: string;
  variant: Variant;
  brief: string;
  hints: string[];
  checks: Check[];
  setup: Step[];
  break: Step[];
  solution: { steps: Step[]; markdown: string };
  accepts: { name: string; steps: Step[]; fails?: string[] }[];
  rejects: { name: string; steps: Step[]; fails?: string[] }[];
}

/** Each variant key is drawn from a hash of the seed and the key, so every seed is an independent,
 * uniform draw per key, and adding a key to a scenario does not reshuffle the others. */
export function pickVariant(variants: Record<string, (string | number)[]>, seed: number): Variant {
  return Object.fromEntries(Object.entries(variants).map(([k, values]) => {
    const h = createHash('sha256').update(`${seed}:${k}`).digest().readUInt32BE(0);
    return [k, values[h % values.length]];
  }));
}

/** Helpers templates use to name the lab's things without hard-coding addresses. */
function helpers(facts: LabFacts): Record<string, Handlebars.HelperDelegate> {
  const find = <T,>(kind: string, list: T[], pred: (x: T) => boolean, name: string): T => {
    const found = list.find(pred);
    if (!found) throw new Error(`no ${kind} "${name}" in this lab`);
    return found;
  };
  const node = (name: string) => find('node', facts.nodes, (n) => n.name === name, name);
  const pod = (t: string) => find('pod', facts.pods, (p) => p.target === t || p.target === `default/${t}`, t);
  const svc = (t: string) => find('service', facts.services, (s) => s.target === t || s.target === `default/${t}`, t);
  const field = (obj: object, f: unknown) => {
    const v = (obj as Record<string, unknown>)[String(f)];
    if (v === undefined) throw new Error(`no field "${String(f)}"`);
    return v;
  };
  return {
    /** {{node "worker" "ip"}} */
    node: (name: string, f: unknown) => field(node(name), f),
    /** {{pod "default/web-1" "ip"}} */
    pod: (t: string, f: unknown) => field(pod(t), f),
    /** {{svc "default/web" "clusterIP"}} */
    svc: (t: string, f: unknown) => field(svc(t), f),
    /** {{other "worker"}} → the other node of the two. */
    other: (name: string) => find('node', facts.nodes, (n) => n.name !== name, `other than ${name}`).name,
    /** {{podOn "worker" "client"}} → the target of the pod running that app on that node. */
    podOn: (nodeName: string, app: string) => find('pod', facts.pods, (p) => p.node === nodeName && p.app === app, `${app} on ${nodeName}`).target,
    /** {{#if (eq v.where "node")}}: choose by variant. */
    eq: (a: unknown, b: unknown) => a === b,
    /** {{minus v.mtu 40}}: e.g. the TCP MSS for an MTU. */
    minus: (a: unknown, b: unknown) => Number(a) - Number(b),
    /** {{podName "default/web-1"}} → "web-1" (what /hostname answers). */
    podName: (t: string) => pod(t).target.split('/')[1],
    /** {{podsOf "coredns"}} → the targets of every pod running that app, in the lab's order
     * (control-plane first): `{{#each (podsOf "web")}}`, or `{{lookup (podsOf "coredns") 0}}` for
     * one of them. Pod names differ per provider (kind's are generated: web-<hash>-<id>). */
    podsOf: (app: string) => {
      const list = facts.pods.filter((p) => p.app === app).map((p) => p.target);
      if (!list.length) throw new Error(`no pod runs "${app}" in this lab`);
      return list;
    },
  };
}

export class RenderError extends Error {
  override name = 'RenderError';
}

/** A file of objects applied as a cluster admin applies it. */
const applyStep = (file: string, text: string): Step => ({
  name: `Applying ${file}`, on: 'admin',
  run: `kubectl apply -f - <<'NETDOJO_MANIFEST'\n${text.replace(/\n?$/, '\n')}NETDOJO_MANIFEST\n`,
});

/** Installing add-ons (and those they need): each one's objects applied, then waited for until it serves. */
export function addonSteps(names: readonly AddonName[], provider: ProviderName): Step[] {
  return withNeeds(names).flatMap((name) => [
    ...addonManifests(name, provider).map((m) => applyStep(m.file, m.text)),
    { name: `Waiting for ${name}`, on: 'admin', run: ADDONS[name].ready[provider] },
  ]);
}

export function renderScenario(loaded: LoadedScenario, facts: LabFacts, seed: number, provider: ProviderName, targets: string[]): RenderedScenario {
  const { spec } = loaded;
  const variant = pickVariant(spec.variants, seed);
  const hb = Handlebars.create();
  hb.registerHelper(helpers(facts));
  const context = { lab: facts, v: variant };
  const render = (tpl: string, where: string): string => {
    try {
      return hb.compile(tpl, { noEscape: true, strict: true })(context);
    } catch (e) {
      throw new RenderError(`scenario ${spec.id}, ${where}: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  const deep = <T,>(value: T, where: string): T => {
    if (typeof value === 'string') return render(value, where) as T;
    if (Array.isArray(value)) return value.map((v, i) => deep(v, `${where}[${i}]`)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v, `${where}.${k}`)])) as T;
    }
    return value;
  };
  const forProvider = <T,>(value: PerProvider<T>, where: string): T => {
    const v = value[provider];
    if (v === undefined) throw new RenderError(`scenario ${spec.id}, ${where}: nothing for the ${provider} provider`);
    return v;
  };
  const known = new Set([...targets, 'admin']);
  const checkTarget = (t: string, where: string) => {
    const norm = t.includes('/') || known.has(t) ? t : `default/${t}`;
    if (!known.has(norm)) throw new RenderError(`scenario ${spec.id}, ${where}: unknown target "${t}"; expected one of: ${[...known].join(', ')}`);
    return norm;
  };
  const steps = (list: Step[] | undefined, where: string): Step[] =>
    (list ?? []).map((s, i) => { const r = deep(s, `${where}[${i}]`); return { ...r, on: checkTarget(r.on, `${where}[${i}].on`) }; });
  // Names are templates too (an attempt can read differently per variant); `where` keeps the index in the file.
  const stepsFor = (v: Step[] | PerProvider<Step[]>, where: string) => isStepList(v) ? steps(v, where) : steps(v[provider], `${where}.${provider}`);
  const attempts = (list: Attempt[], where: string) => list
    .flatMap((a, i) => (checkRunsOn(a, provider) && (isStepList(a.steps) || a.steps[provider]) ? [{ a, i }] : []))
    .map(({ a, i }) => ({ name: render(a.name, `${where}[${i}].name`), fails: a.fails, steps: stepsFor(a.steps, `${where}[${i}].steps`) }));
  const addons = addonSteps(spec.addons, provider);
  const manifests: Step[] = loaded.manifests.map((m) => applyStep(m.file, render(m.text, m.file)));

  /** A matrix check as its pairs: `tcp` where the source may reach the target, `negative` elsewhere. */
  const matrixChecks = (declared: MatrixCheck, i: number): Check[] => {
    const m = deep(declared, `checks[${i}]`);
    const names = new Set(m.to.map((t) => t.name));
    const sources = m.from.map((f, k) => checkTarget(f, `checks[${i}].from[${k}]`));
    const allowed = new Map<string, Set<string>>();
    for (const [src, targets] of Object.entries(m.allow)) {
      const from = checkTarget(src, `checks[${i}].allow`);
      if (!sources.includes(from)) throw new RenderError(`scenario ${spec.id}, checks[${i}].allow: "${src}" is not one of the matrix's sources (from)`);
      for (const t of targets) if (!names.has(t)) throw new RenderError(`scenario ${spec.id}, checks[${i}].allow.${src}: unknown target "${t}"; expected one of: ${[...names].join(', ')}`);
      allowed.set(from, new Set(targets));
    }
    const broken = new Set(m.broken.map((pair, k) => {
      const [src, t] = pair.split(' ');
      if (!names.has(t)) throw new RenderError(`scenario ${spec.id}, checks[${i}].broken[${k}]: unknown target "${t}"; expected one of: ${[...names].join(', ')}`);
      return `${checkTarget(src, `checks[${i}].broken[${k}]`)} ${t}`;
    }));
    return sources.flatMap((from) => m.to.map((t): Check => {
      const allow = allowed.get(from)?.has(t.name) ?? false;
      const base = {
        id: `${m.id}@${from.split('/').pop()}/${t.name}`,
        title: `${m.title}: ${from} → ${t.name} ${allow ? 'allowed' : 'blocked'}`,
        from, host: t.host, port: t.port, weight: m.weight,
      };
      const isBroken = broken.has(`${from} ${t.name}`);
      return allow
        ? { ...base, kind: 'tcp', hints: { default: `${from} must reach ${t.name} (${t.host}:${t.port}); something blocks it.`, ...m.hints }, ...(isBroken ? { broken: ['TIMEOUT', 'REFUSED', 'UNREACHABLE'] } : {}) }
        : { ...base, kind: 'negative', hints: { UNEXPECTED_ALLOW: `${from} must not reach ${t.name} (${t.host}:${t.port}), and it does.`, ...m.hints }, ...(isBroken ? { broken: 'UNEXPECTED_ALLOW' } : {}) };
    }));
  };

  const checks: Check[] = spec.checks.flatMap((declared, i) => {
    if (!checkRunsOn(declared, provider)) return [];
    if (declared.kind === 'matrix') return matrixChecks(declared, i);
    // Resolved for this provider before rendering: the other provider's script is never rendered.
    const { providers: _, ...c } = declared.kind === 'state' && typeof declared.run === 'object' ? { ...declared, run: forProvider(declared.run, `checks[${i}].run`) } : declared;
    const rendered = deep(c, `checks[${i}]`);
    const sources = Array.isArray(rendered.from) ? rendered.from : [rendered.from];
    // A check from several sources becomes one check per source: each is probed and scored on its own.
    return sources.map((from) => ({
      ...rendered,
      from: checkTarget(from, `checks[${i}].from`),
      id: sources.length > 1 ? `${rendered.id}@${from.split('/').pop()}` : rendered.id,
    }) as Check);
  });

  return {
    id: spec.id,
    title: spec.title,
    variant,
    brief: render(loaded.brief, 'brief.md'),
    hints: spec.hints.map((h, i) => render(h, `hints[${i}]`)),
    checks,
    setup: [...addons, ...manifests, ...stepsFor(spec.setup, 'setup')],
    break: stepsFor(spec.break, 'break'),
    solution: { steps: stepsFor(spec.solution, 'solution'), markdown: render(loaded.solution, 'solution.md') },
    accepts: attempts(spec.accepts, 'accepts'),
    rejects: attempts(spec.rejects, 'rejects'),
  };
}
