import { z } from 'zod';

// exams/<id>.yaml: a practice exam built from the scenario library. Each task is one scenario's lab,
// drawn with a fresh seed per attempt; a task may pin some of the scenario's variant keys (the rest
// still vary from attempt to attempt). An exam lists its tasks, or takes the whole library.

const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes');

export const ExamTask = z.strictObject({
  /** The id of a scenario in scenarios/. */
  scenario: Slug,
  /** Its share of the exam's points; a task scores weight × (target check points mended / possible), see score.ts. */
  weight: z.number().positive(),
  /** Variant values this task always gets (keys and values from the scenario's `variants`). */
  variant: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});
export type ExamTask = z.infer<typeof ExamTask>;

export const ExamSpec = z.strictObject({
  id: Slug,
  title: z.string().min(1),
  /** Time allowed; the clock starts with the attempt and never pauses. */
  minutes: z.number().int().positive().max(24 * 60),
  /** Percent of the points needed to pass. */
  passMark: z.number().min(0).max(100),
  /** Shown before and during the attempt (markdown). */
  instructions: z.string().min(1),
  tasks: z.array(ExamTask).min(1).max(100).optional(),
  /** Instead of `tasks`: a task for every scenario of the library, weighted by its difficulty (the
   * exam grows with the library). */
  library: z.strictObject({
    weights: z.strictObject({ beginner: z.number().positive(), intermediate: z.number().positive(), advanced: z.number().positive() }),
  }).optional(),
});
export type ExamSpec = z.infer<typeof ExamSpec>;
