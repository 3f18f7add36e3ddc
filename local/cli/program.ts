import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command('gift-batch')
    .description(
      'Send &Open gifts in batches: validate recipient files, run them through the pipeline.',
    )
    .showHelpAfterError();
  return program;
}
