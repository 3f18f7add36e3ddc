/** The &Open 2026-05 sandbox: a contract-faithful simulator with fault injection and a journal. */

export { DEFAULT_FAULT_OPTIONS, SandboxConfigError } from './faults.ts';
export type {
  Journal,
  JournalEarlyRequest,
  JournalGift,
  JournalRequest,
  JournalSummary,
  JournalWebhookAttempt,
} from './journal.ts';
export {
  DEMO_CAMPAIGNS,
  DEMO_TENANT,
  demoCampaigns,
  demoVariantId,
  SANDBOX_API_KEY,
} from './seed.ts';
export { type Sandbox, startSandbox } from './server.ts';
export { SandboxNotFoundError } from './store.ts';
export type {
  ApiKey,
  CampaignSeed,
  ErrorEntry,
  FaultOptions,
  FaultTarget,
  InjectedFault,
  MaintenanceWindow,
  RateLimitOptions,
  RetryAfterFormat,
  SandboxOptions,
} from './types.ts';
export { INJECTED_FAULTS } from './types.ts';
export type { WebhookOptions, WebhookSummary } from './webhooks.ts';
