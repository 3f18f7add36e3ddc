import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: bind port 0, read what the OS chose, close.
 * Another process may still take it before the caller binds it, so callers that pick a port this
 * way retry on "address in use".
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() =>
        port === undefined ? reject(new Error('The OS did not report a port')) : resolve(port),
      );
    });
  });
}
