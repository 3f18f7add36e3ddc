#!/usr/bin/env node
// The `gift-batch` command. It runs the TypeScript CLI through tsx, so that `npx gift-batch` works
// straight after `npm ci` with no build step for the user to remember.

// The AWS SDK prints a multi-line warning on Node 20 at first load; the CLI is not a Lambda.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { register } = await import('tsx/esm/api');
register();
await import('./gift-batch.ts');
