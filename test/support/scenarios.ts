import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SCENARIOS_DIR } from '../../server/scenario/load.ts';

/** Every scenario the repository ships, by directory (each with a scenario.yaml), in name order:
 *  what the loader, the CLI and verify must all list, none dropped. */
export const SCENARIO_IDS = readdirSync(SCENARIOS_DIR).filter((d) => existsSync(join(SCENARIOS_DIR, d, 'scenario.yaml'))).sort();
