import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  type SandboxCliOptions,
  sandboxCommand,
  toSandboxOptions,
} from '../../local/cli/commands/sandbox.ts';
import { DEMO_CAMPAIGNS, SANDBOX_API_KEY } from '../../sandbox/index.ts';
import { API_HEADERS } from './helpers.ts';

/** Parses argv with the command's own parsers, without starting anything. */
function parse(args: string[]): SandboxCliOptions {
  const command = sandboxCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .action(() => {});
  command.parse(args, { from: 'user' });
  return command.opts<SandboxCliOptions>();
}

describe('gift-batch sandbox: options', () => {
  it('has demo-friendly defaults', () => {
    // Act
    const options = toSandboxOptions(parse([]));

    // Assess
    expect(options).toEqual({ host: '127.0.0.1', port: 0, maintenance: [], faultRates: {} });
  });

  it('maps every option onto the sandbox options', () => {
    // Prepare
    const args = [
      '--port',
      '8787',
      '--host',
      '0.0.0.0',
      '--rate-limit',
      '2.5',
      '--burst',
      '5',
      '--retry-after-format',
      'http-date',
      '--latency',
      '20-80',
      '--url-delay',
      '0',
      '--maintenance',
      '60:30',
      '--maintenance',
      '300:5',
      '--fault-rate',
      '502=0.1',
      '--fault-rate',
      'drop-after-create=0.05',
      '--seed',
      '9',
    ];

    // Act
    const options = toSandboxOptions(parse(args));

    // Assess
    expect(options).toEqual({
      host: '0.0.0.0',
      port: 8787,
      rateLimit: { rps: 2.5, burst: 5 },
      retryAfterFormat: 'http-date',
      latencyMs: { min: 20, max: 80 },
      redemptionUrlDelayMs: 0,
      maintenance: [
        { startMs: 60_000, durationMs: 30_000 },
        { startMs: 300_000, durationMs: 5000 },
      ],
      faultRates: { '502': 0.1, 'drop-after-create': 0.05 },
      seed: 9,
    });
  });

  it('accepts more keys besides the demo key, and a state file', () => {
    // Act
    const options = toSandboxOptions(
      parse(['--api-key', 'ao-v1-staging-two', '--api-key', 'k3', '--state-file', '/tmp/s.jsonl']),
    );

    // Assess
    expect(options.apiKeys).toEqual([SANDBOX_API_KEY, 'ao-v1-staging-two', 'k3']);
    expect(options.stateFile).toBe('/tmp/s.jsonl');
  });

  it.each([
    [['--api-key', 'two words']],
    [['--port', '70000']],
    [['--rate-limit', '0']],
    [['--latency', 'fast']],
    [['--latency', '80-20']],
    [['--maintenance', '60']],
    [['--retry-after-format', 'minutes']],
    [['--fault-rate', 'gremlins=0.5']],
  ])('rejects %j', (args) => {
    // Act
    const act = () => parse(args);

    // Assess
    expect(act).toThrow(CommanderError);
  });

  it('refuses --burst without --rate-limit', () => {
    // Act
    const act = () => toSandboxOptions(parse(['--burst', '3']));

    // Assess
    expect(act).toThrow(/--burst needs --rate-limit/);
  });
});

describe('gift-batch sandbox: running', () => {
  it('serves until stopped, after printing its URL, the demo key and the campaigns', async () => {
    // Prepare
    const lines: string[] = [];
    let stop = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let announce = (_url: string) => {};
    const listening = new Promise<string>((resolve) => {
      announce = resolve;
    });
    const command = sandboxCommand({
      print: (line) => {
        lines.push(line);
        const url = line.match(/listening on (\S+)/)?.[1];
        if (url !== undefined) announce(url);
      },
      untilStopped: () => stopped,
    });

    // Act
    const run = command.parseAsync(['--rate-limit', '0.01', '--burst', '1'], { from: 'user' });
    const url = await listening;
    let statuses: number[];
    try {
      const first = await fetch(`${url}/campaigns`, { headers: API_HEADERS });
      const second = await fetch(`${url}/campaigns`, { headers: API_HEADERS });
      statuses = [first.status, second.status];
    } finally {
      stop(); // the command stops the sandbox it started, even when a fetch failed
      await run;
    }

    // Assess
    expect(statuses).toEqual([200, 429]);
    const banner = lines.join('\n');
    expect(banner).toContain(SANDBOX_API_KEY);
    for (const id of Object.values(DEMO_CAMPAIGNS)) expect(banner).toContain(id);
    expect(lines.at(-1)).toMatch(/stopped: 2 requests/);
    await expect(fetch(`${url}/campaigns`)).rejects.toThrow();
  });
});
