import { Command } from 'commander';

// Stub: replaced by the recipient-files work.
export function validateCommand(): Command {
  return new Command('validate').description('Check a recipient file without sending anything.');
}
