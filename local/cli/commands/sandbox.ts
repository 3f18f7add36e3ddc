import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEMO_CAMPAIGNS,
  INJECTED_FAULTS,
  type InjectedFault,
  type MaintenanceWindow,
  SANDBOX_API_KEY,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from '../../../sandbox/index.ts';

/** The options as commander hands them over, after each value's parser ran. */
export interface SandboxCliOptions {
  port: number;
  host: string;
  rateLimit?: number;
  burst?: number;
  retryAfterFormat?: 'seconds' | 'http-date';
  latency?: { min: number; max: number };
  urlDelay?: number;
  maintenance: MaintenanceWindow[];
  faultRate: Partial<Record<InjectedFault, number>>;
  seed?: number;
  apiKey: string[];
  stateFile?: string;
}

export interface SandboxCommandDeps {
  /** Where the banner goes; default stdout. */
  print?: (line: string) => void;
  /** Resolves when the sandbox should stop; default: the first SIGINT or SIGTERM. */
  untilStopped?: () => Promise<void>;
}

export function sandboxCommand(deps: SandboxCommandDeps = {}): Command {
  const print = deps.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const untilStopped = deps.untilStopped ?? untilSignal;
  return new Command('sandbox')
    .description('Run the built-in &Open 2026-05 sandbox in the foreground (Ctrl-C stops it).')
    .option('--port <n>', 'port to listen on (0 = any free port)', parsePort, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--rate-limit <rps>', 'requests per second per tenant (all endpoints)', parsePositive)
    .option('--burst <n>', 'rate-limit bucket size (default: the rps, at least 1)', parseWhole)
    .addOption(
      new Option('--retry-after-format <format>', 'how Retry-After is written').choices([
        'seconds',
        'http-date',
      ]),
    )
    .option('--latency <min-max>', 'added latency per answer, in ms (e.g. 20-80)', parseLatency)
    .option('--url-delay <ms>', 'ms before a new gift gets its redemption_url', parseNonNegative)
    .option(
      '--maintenance <start_s:duration_s>',
      'a maintenance window, seconds after start (repeatable)',
      collectWindow,
      [],
    )
    .option(
      '--fault-rate <fault=probability>',
      `a random fault on POST /gift_requests (repeatable; ${INJECTED_FAULTS.join(', ')})`,
      collectFaultRate,
      {},
    )
    .option('--seed <n>', 'seed for repeatable ids and fault rolls', parseWhole)
    .option(
      '--api-key <key>',
      'another key to accept for the demo tenant, besides the demo key (repeatable)',
      collectKey,
      [],
    )
    .option(
      '--state-file <path>',
      'keep gifts and stock in this file and reload them on start (default: memory only)',
    )
    .action(async (raw: SandboxCliOptions, command: Command) => {
      let sandbox: Sandbox;
      try {
        sandbox = await startSandbox(toSandboxOptions(raw));
      } catch (error) {
        // Bad combinations (--burst alone, fault rates over 1) and a port in use end up here.
        command.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      }
      print(`&Open 2026-05 sandbox listening on ${sandbox.url}`);
      print(`  API key (demo):        ${SANDBOX_API_KEY}`);
      print(`  campaign, choice:      ${DEMO_CAMPAIGNS.choice}`);
      print(`  campaign, direct-send: ${DEMO_CAMPAIGNS.directSend}`);
      print(`  campaign, archived:    ${DEMO_CAMPAIGNS.archived}`);
      if (raw.apiKey.length > 0) print(`  other keys accepted:   ${raw.apiKey.length}`);
      print('  admin: GET /_sandbox/journal, POST /_sandbox/faults, POST /_sandbox/inject,');
      print('         POST /_sandbox/gift_requests/{id}/status, POST /_sandbox/keys/revoke');
      print('Press Ctrl-C to stop.');
      await untilStopped();
      await sandbox.stop();
      const summary = sandbox.journal.summary();
      print(
        `Sandbox stopped: ${summary.requests} requests, ${summary.giftsCreated} gifts created.`,
      );
    });
}

/** Maps parsed command-line options onto the sandbox's options. */
export function toSandboxOptions(raw: SandboxCliOptions): SandboxOptions {
  if (raw.burst !== undefined && raw.rateLimit === undefined) {
    throw new InvalidArgumentError('--burst needs --rate-limit');
  }
  const options: SandboxOptions = {
    host: raw.host,
    port: raw.port,
    maintenance: raw.maintenance,
    faultRates: raw.faultRate,
  };
  if (raw.rateLimit !== undefined) {
    options.rateLimit = {
      rps: raw.rateLimit,
      ...(raw.burst === undefined ? {} : { burst: raw.burst }),
    };
  }
  if (raw.retryAfterFormat !== undefined) options.retryAfterFormat = raw.retryAfterFormat;
  if (raw.latency !== undefined) options.latencyMs = raw.latency;
  if (raw.urlDelay !== undefined) options.redemptionUrlDelayMs = raw.urlDelay;
  if (raw.seed !== undefined) options.seed = raw.seed;
  if (raw.apiKey.length > 0) options.apiKeys = [SANDBOX_API_KEY, ...raw.apiKey];
  if (raw.stateFile !== undefined) options.stateFile = raw.stateFile;
  return options;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parseNonNegative(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0) {
    throw new InvalidArgumentError('expected a number >= 0');
  }
  return number;
}

function parsePositive(value: string): number {
  const number = parseNonNegative(value);
  if (number === 0) throw new InvalidArgumentError('expected a number > 0');
  return number;
}

function parseWhole(value: string): number {
  const number = parseNonNegative(value);
  if (!Number.isInteger(number)) throw new InvalidArgumentError('expected a whole number');
  return number;
}

function parsePort(value: string): number {
  const port = parseWhole(value);
  if (port > 65535) throw new InvalidArgumentError('expected a port, 0-65535');
  return port;
}

function parseLatency(value: string): { min: number; max: number } {
  const match = value.match(/^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/);
  if (match?.[1] === undefined) throw new InvalidArgumentError('expected MIN-MAX or MS');
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (max < min) throw new InvalidArgumentError('MAX must not be below MIN');
  return { min, max };
}

function collectKey(value: string, keys: string[]): string[] {
  if (!/^\S+$/.test(value)) throw new InvalidArgumentError('a key is one word, without spaces');
  return [...keys, value];
}

function collectWindow(value: string, windows: MaintenanceWindow[]): MaintenanceWindow[] {
  const [start, duration, ...rest] = value.split(':');
  if (start === undefined || duration === undefined || rest.length > 0) {
    throw new InvalidArgumentError('expected START_S:DURATION_S');
  }
  const window = {
    startMs: parseNonNegative(start) * 1000,
    durationMs: parseNonNegative(duration) * 1000,
  };
  return [...windows, window];
}

function collectFaultRate(
  value: string,
  rates: Partial<Record<InjectedFault, number>>,
): Partial<Record<InjectedFault, number>> {
  const [fault, probability] = value.split('=');
  if (!INJECTED_FAULTS.includes(fault as InjectedFault) || probability === undefined) {
    throw new InvalidArgumentError(`expected FAULT=P with FAULT one of ${INJECTED_FAULTS}`);
  }
  const rate = parseNonNegative(probability);
  if (rate > 1) throw new InvalidArgumentError('a probability is at most 1');
  return { ...rates, [fault as InjectedFault]: rate };
}
