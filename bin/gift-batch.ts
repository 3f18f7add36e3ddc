import { buildProgram } from '../local/cli/program.ts';

await buildProgram().parseAsync(process.argv);
