import type { Check, GradeReport } from '../../grader/types.ts';
import type { Lab, ProgressFn, ProviderName } from '../lab/types.ts';
import type { ScenarioSpec } from '../scenario/schema.ts';

// The one place where the web server meets the rest of netdojo: scenario catalog, lab lifecycle and
// grading. The server only ever talks to a LabBackend; realBackend() wires the project's modules.

export type CatalogEntry = Pick<ScenarioSpec, 'id' | 'title' | 'summary' | 'difficulty' | 'minutes' | 'tags' | 'concepts' | 'providers'>;

export interface RenderedScenario {
  variant: Record<string, string | number>;
  /** Markdown, already templated with the lab's real facts. */
  brief: string;
  hints: string[];
  checks: Check[];
  solution: { steps: { on: string; run: string; name?: string }[]; markdown: string };
}

export interface StartedLab { lab: Lab; rendered: RenderedScenario }

export interface StartOptions { scenario: string; provider?: ProviderName; seed?: number; onProgress?: ProgressFn }

export interface LabBackend {
  scenarios(): Promise<CatalogEntry[]>;
  start(opts: StartOptions): Promise<StartedLab>;
  /** Back to freshly broken: same scenario and seed. */
  reset(labId: string, onProgress?: ProgressFn): Promise<StartedLab>;
  grade(lab: Lab, checks: Check[]): Promise<GradeReport>;
  /** Removes labs whose holder died (a crashed server); returns their ids. */
  reap(): Promise<string[]>;
}

const pick = (s: ScenarioSpec): CatalogEntry => ({
  id: s.id, title: s.title, summary: s.summary, difficulty: s.difficulty, minutes: s.minutes, tags: s.tags,
  concepts: s.concepts, providers: s.providers,
});

/** The project's scenario loader, lab session and grader. */
export function realBackend(): LabBackend {
  // Specifiers go through a variable while these modules are being written in parallel (they type-check
  // against the signatures above); switch to static imports once they have all landed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const mod = (p: string): Promise<any> => import(new URL(p, import.meta.url).href);
  const load = () => mod('../scenario/load.ts') as Promise<{ loadScenarios(): Promise<{ spec: ScenarioSpec; dir: string }[]> }>;
  const session = () => mod('../lab/session.ts') as Promise<{
    startLab(o: StartOptions): Promise<StartedLab>;
    resetLab(id: string, o?: { onProgress?: ProgressFn }): Promise<StartedLab>;
  }>;
  const grader = () => mod('../../grader/index.ts') as Promise<{ gradeLab(lab: Lab, checks: Check[]): Promise<GradeReport> }>;
  return {
    async scenarios() {
      const all = await (await load()).loadScenarios();
      return all.map((s) => pick(s.spec));
    },
    async start(opts) {
      return (await session()).startLab(opts);
    },
    async reset(labId, onProgress) {
      return (await session()).resetLab(labId, { onProgress });
    },
    async grade(lab, checks) {
      return (await grader()).gradeLab(lab, checks);
    },
    async reap() {
      const { netnsProvider } = await mod('../providers/netns/index.ts') as { netnsProvider: { reap(): Promise<string[]> } };
      return netnsProvider.reap();
    },
  };
}
