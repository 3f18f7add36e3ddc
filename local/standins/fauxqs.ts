import { type BuildAppOptions, buildApp } from 'fauxqs';
import { LOCAL_REGION } from './client-config.ts';
import { LOOPBACK } from './ports.ts';
import type { RunningStandIn } from './types.ts';

type FauxqsStores = NonNullable<BuildAppOptions['stores']>;

export interface FauxqsOptions {
  /** Defaults to a free port chosen by the OS. */
  port?: number;
  /** Region for requests whose signature names none. Defaults to {@link LOCAL_REGION}. */
  region?: string;
}

/**
 * Starts fauxqs (S3 + SQS on one endpoint) in this process, on 127.0.0.1.
 *
 * Not fauxqs's own `startFauxqs`: that binds 0.0.0.0 and names queues
 * `http://sqs.<region>.localhost:PORT/…`, a host that does not resolve here. With the SQS store's
 * host cleared, queue URLs take the request's Host header: `http://127.0.0.1:PORT/000000000000/NAME`.
 */
export async function startFauxqs(options: FauxqsOptions = {}): Promise<RunningStandIn> {
  const stores = await createStores();
  // A falsy host makes fauxqs build queue URLs from the Host header the client sent.
  stores.sqsStore.host = '';
  const app = buildApp({
    logger: false,
    defaultRegion: options.region ?? LOCAL_REGION,
    stores,
  });
  await app.listen({ port: options.port ?? 0, host: LOOPBACK });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new Error(`fauxqs did not report a TCP address (got ${String(address)})`);
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop() {
      stopping ??= app.close();
      return stopping;
    },
  };
}

/**
 * fauxqs 1.9.2 exports `buildApp` but not the store classes it accepts, and its package `exports`
 * hides deep paths from the resolver. Load them from next to the resolved entry point: the same
 * files `buildApp` itself uses.
 */
async function createStores(): Promise<FauxqsStores> {
  const entry = import.meta.resolve('fauxqs');
  const [sqs, sns, s3] = await Promise.all([
    import(new URL('./sqs/sqsStore.js', entry).href),
    import(new URL('./sns/snsStore.js', entry).href),
    import(new URL('./s3/s3Store.js', entry).href),
  ]);
  return {
    sqsStore: new sqs.SqsStore(),
    snsStore: new sns.SnsStore(),
    s3Store: new s3.S3Store(),
  };
}
