import type { GradeRow, LabActivity, LabRow } from '../store/store.ts';

// One lab on one time axis: when it started and was ready, every command the learner entered (with
// the terminal it went to), every Check with what still failed, hints and the solution, and the end.
// "What did they try before DNS came back" is the commands between two grades. Built from the store's
// rows only, so it is there after the lab ended and after a server restart.

export type TimelineEvent =
  | { kind: 'started' }
  | { kind: 'ready' }
  | { kind: 'command'; target: string; command: string }
  | { kind: 'grade'; verdict: 'pass' | 'fail'; earned: number; possible: number; failing: string[] }
  | { kind: 'hint'; number: number }
  | { kind: 'solution' }
  | { kind: 'ended'; reason: string };

export type TimelineEntry = TimelineEvent & {
  at: number;
  /** Since the lab started. */
  offsetMs: number;
};

export interface Timeline {
  lab: string;
  scenario: string;
  startedAt: number;
  entries: TimelineEntry[];
}

export function labTimeline(lab: LabRow, grades: readonly GradeRow[], activity: LabActivity): Timeline {
  const events: (TimelineEvent & { at: number })[] = [{ kind: 'started', at: lab.createdAt }];
  if (lab.readyAt !== null) events.push({ kind: 'ready', at: lab.readyAt });
  for (const c of activity.commands) events.push({ kind: 'command', at: c.at, target: c.target, command: c.command });
  for (const g of grades) {
    // Checks expanded per source share a title: each failing title once.
    const failing = [...new Set(g.report.checks.filter((c) => !c.pass).map((c) => c.title))];
    events.push({ kind: 'grade', at: g.at, verdict: g.verdict, earned: g.earned, possible: g.possible, failing });
  }
  for (const h of activity.hints) events.push({ kind: 'hint', at: h.at, number: h.index + 1 });
  if (activity.revealedAt !== null) events.push({ kind: 'solution', at: activity.revealedAt });
  if (lab.endedAt !== null) events.push({ kind: 'ended', at: lab.endedAt, reason: lab.endReason ?? '' });
  // Stable: events at the same millisecond keep the order above (a lab starts before anything in it).
  events.sort((a, b) => a.at - b.at);
  return { lab: lab.id, scenario: lab.scenario, startedAt: lab.createdAt, entries: events.map((e) => ({ ...e, offsetMs: e.at - lab.createdAt })) };
}
