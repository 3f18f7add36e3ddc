/**
 * Throwaway credentials for the stand-ins. DynamoDB Local rejects access keys that are not letters
 * and digits only, so keep them that way.
 */
export const LOCAL_CREDENTIALS: Readonly<{ accessKeyId: string; secretAccessKey: string }> =
  Object.freeze({ accessKeyId: 'local', secretAccessKey: 'local' });

export const LOCAL_REGION = 'us-east-1';

export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: true;
}

/**
 * SDK client config for the stand-ins: endpoint, region, throwaway credentials, and path-style S3
 * (bucket virtual hosts do not resolve locally). Everything is explicit, so a local run never
 * consults the user's real AWS profile, environment or instance metadata.
 */
export function localClientConfig(endpoint: string): LocalClientConfig {
  return {
    endpoint,
    region: LOCAL_REGION,
    // A copy, so no client can alter the shared constant.
    credentials: { ...LOCAL_CREDENTIALS },
    forcePathStyle: true,
  };
}
