import { api, onStartButtons } from './dom.ts';

/** The start buttons of the catalog, the exams and a cohort's page: a scenario's lab, an exam's attempt. */
export function startButtons() {
  onStartButtons('start', async (scenario) => `/labs/${(await api<{ lab: { id: string } }>('POST', '/api/labs', { scenario })).lab.id}`);
  onStartButtons('start-exam', async (exam) => `/attempts/${(await api<{ attempt: { id: string } }>('POST', `/api/exams/${exam}/attempts`, {})).attempt.id}`);
}
