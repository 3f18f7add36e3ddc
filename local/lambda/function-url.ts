import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { invokeWithTimeout, LOCAL_ACCOUNT_ID } from './context.ts';
import { describeError, type LocalLambdaLogger, stderrLogger } from './logger.ts';

export type FunctionUrlHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface FunctionUrlOptions {
  handler: FunctionUrlHandler;
  functionName: string;
  timeoutMs: number;
  /** Lambda's cap on a Function URL request body (6 MB); larger requests get a 413. */
  maxBodyBytes?: number;
  logger?: LocalLambdaLogger;
}

export interface RunningFunctionUrl {
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
  stop(): Promise<void>;
}

const SIX_MB = 6 * 1024 * 1024;

/**
 * A Lambda Function URL on 127.0.0.1 (port 0): each HTTP request becomes the payload-format-2.0
 * event Lambda would build (lowercase headers, the body as text for text content types and base64
 * otherwise), the handler runs with a context and a timeout, and its result becomes the response.
 * A handler that throws or times out answers 502, as Lambda does.
 */
export async function startFunctionUrl(options: FunctionUrlOptions): Promise<RunningFunctionUrl> {
  const logger = options.logger ?? stderrLogger;
  const maxBodyBytes = options.maxBodyBytes ?? SIX_MB;
  const server: Server = createServer((req, res) => {
    readBody(req, maxBodyBytes)
      .then(async (body) => {
        if (body === null) {
          res
            .writeHead(413, { 'content-type': 'application/json' })
            .end('{"message":"Request Entity Too Large"}');
          return;
        }
        let result: APIGatewayProxyStructuredResultV2;
        try {
          result = await invokeWithTimeout(options.handler, functionUrlEvent(req, body), {
            functionName: options.functionName,
            timeoutMs: options.timeoutMs,
          });
        } catch (error) {
          logger.error('function URL invocation failed', {
            functionName: options.functionName,
            ...describeError(error),
          });
          res
            .writeHead(502, { 'content-type': 'application/json' })
            .end('{"message":"Internal Server Error"}');
          return;
        }
        const payload =
          result.body === undefined
            ? Buffer.alloc(0)
            : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
        res.writeHead(result.statusCode ?? 200, {
          ...(result.headers as Record<string, string> | undefined),
          'content-length': payload.length,
        });
        res.end(payload);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

/** Content types Lambda passes as text; every other body arrives base64-encoded. */
function isText(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    /^application\/([\w.+-]+\+)?(json|xml|javascript|x-www-form-urlencoded)$/.test(type)
  );
}

export function functionUrlEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined)
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const text = isText(headers['content-type']);
  const now = new Date();
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString(text ? 'utf8' : 'base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
