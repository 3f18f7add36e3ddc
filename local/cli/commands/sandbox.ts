import { Command } from 'commander';

// Stub: replaced by the sandbox work.
export function sandboxCommand(): Command {
  return new Command('sandbox').description('Run the built-in &Open 2026-05 sandbox.');
}
