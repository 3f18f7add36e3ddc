/**
 * One in-process scenario in a process of its own (the handlers read their environment once, so a
 * process holds one local pipeline). Writes its report as JSON to the path given.
 *
 *   node --import tsx test/faults/child.ts SCENARIO REPORT.json
 */
import { writeFile } from 'node:fs/promises';
import { runInProcess } from './in-process.ts';
import type { ScenarioReport } from './report.ts';
import { IN_PROCESS_SCENARIOS } from './scenarios.ts';

const [name, reportPath] = process.argv.slice(2);
const scenario = IN_PROCESS_SCENARIOS.find((candidate) => candidate.name === name);
if (!scenario || !reportPath) {
  console.error(
    `usage: child.ts SCENARIO REPORT.json (SCENARIO: ${IN_PROCESS_SCENARIOS.map((s) => s.name)})`,
  );
  process.exit(2);
}
const report: ScenarioReport = await runInProcess(scenario);
await writeFile(reportPath, JSON.stringify(report));
// Stray keep-alive sockets or timers of the handlers must not keep a finished scenario alive.
process.exit(0);
