import { gradeLab } from '../../grader/index.ts';
import type { Check, CheckResult, GradeReport } from '../../grader/types.ts';
import { destroyLab, resetLab, startLab, type StartOptions } from '../lab/session.ts';
import { getProvider } from '../providers/index.ts';
import { loadCatalog, unprovenOn } from '../scenario/load.ts';
import type { KindProof } from '../scenario/proofs.ts';
import type { Lab, ProgressFn, ProviderName } from '../lab/types.ts';
import type { RenderedScenario as FullRendering } from '../scenario/render.ts';
import type { ScenarioSpec } from '../scenario/schema.ts';
import type { WarmLabs } from '../lab/warm.ts';

export type { StartOptions };

// The one place where the web server meets the rest of netdojo: scenario catalog, lab lifecycle and
// grading. The server only ever talks to a LabBackend; realBackend() wires the project's modules.

export type CatalogEntry = Pick<ScenarioSpec, 'id' | 'title' | 'summary' | 'difficulty' | 'minutes' | 'tags' | 'concepts' | 'track' | 'competencies' | 'learned' | 'providers'> & {
  /** Providers whose steps for it are not proven yet (kind, until a real cluster passed them). */
  unproven: ProviderName[];
};

/** What the web server uses of a rendered scenario (test backends provide just this). */
export type RenderedScenario = Pick<FullRendering, 'variant' | 'brief' | 'hints' | 'checks' | 'solution'>;

export interface StartedLab { lab: Lab; rendered: RenderedScenario }

export interface LabBackend {
  scenarios(): Promise<CatalogEntry[]>;
  start(opts: StartOptions): Promise<StartedLab>;
  /** Back to freshly broken: same scenario and seed. */
  reset(labId: string, onProgress?: ProgressFn): Promise<StartedLab>;
  /**
   * `onCheck` gets each check's result the moment it is final, before the report; `typedAt` is when
   * the learner last typed into the lab's terminals (a lab typed into just now has not settled).
   */
  grade(lab: Lab, checks: Check[], onCheck?: (result: CheckResult) => void, typedAt?: number): Promise<GradeReport>;
  /** Tears the lab down and removes its records: nothing of it is left. */
  destroy(lab: Lab): Promise<void>;
  /** Removes labs of this provider whose holder died (a crashed server); returns their ids. */
  reap(provider: ProviderName): Promise<string[]>;
}

/** A scenario as the catalog lists it (the CLI's `scenarios --json` and the web app's). */
export const catalogEntry = (s: ScenarioSpec, kindProofs: ReadonlyMap<string, KindProof>): CatalogEntry => ({
  id: s.id, title: s.title, summary: s.summary, difficulty: s.difficulty, minutes: s.minutes, tags: s.tags,
  concepts: s.concepts, track: s.track, competencies: s.competencies, learned: s.learned, providers: s.providers,
  unproven: unprovenOn(s, kindProofs),
});

/**
 * The project's scenario loader, lab session and grader; new labs come from `warm()` when it gives
 * labs made ahead (a server's, once it runs).
 */
export function realBackend(warm: () => WarmLabs | undefined = () => undefined): LabBackend {
  return {
    async scenarios() {
      const { scenarios, kindProofs } = await loadCatalog();
      return scenarios.map((s) => catalogEntry(s.spec, kindProofs));
    },
    async start(opts) {
      return startLab({ warm: warm(), ...opts });
    },
    async reset(labId, onProgress) {
      return resetLab(labId, onProgress);
    },
    async grade(lab, checks, onCheck, typedAt) {
      return gradeLab(lab, checks, { typedAt, onProgress: (e) => { if (e.type === 'check') onCheck?.(e.result); } });
    },
    async destroy(lab) {
      return destroyLab(lab);
    },
    async reap(provider) {
      return (await getProvider(provider)).reap();
    },
  };
}
