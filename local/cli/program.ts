import { Command } from 'commander';
import { approveCommand } from './commands/approve.ts';
import { exportCommand } from './commands/export.ts';
import { preflightCommand } from './commands/preflight.ts';
import { reconcileCommand } from './commands/reconcile.ts';
import { retryUnknownCommand } from './commands/retry-unknown.ts';
import { resumeCommand, runCommand } from './commands/run.ts';
import { sandboxCommand } from './commands/sandbox.ts';
import { sendCommand } from './commands/send.ts';
import { statusCommand } from './commands/status.ts';
import { validateCommand } from './commands/validate.ts';

export function buildProgram(): Command {
  const program = new Command('gift-batch')
    .description(
      'Send &Open gifts in batches: validate recipient files, run them through the pipeline.',
    )
    .showHelpAfterError();
  program.addCommand(runCommand());
  program.addCommand(resumeCommand());
  program.addCommand(retryUnknownCommand());
  program.addCommand(reconcileCommand());
  program.addCommand(statusCommand());
  program.addCommand(approveCommand());
  program.addCommand(exportCommand());
  program.addCommand(sendCommand());
  program.addCommand(validateCommand());
  program.addCommand(preflightCommand());
  program.addCommand(sandboxCommand());
  return program;
}
