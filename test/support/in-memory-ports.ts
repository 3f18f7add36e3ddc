import type { ObjectStore, StoredObject } from '../../lambdas/ports/object-store.ts';
import type { RunLease } from '../../lambdas/ports/run-lease.ts';
import type { EnqueueOptions, SendMessage, SendQueue } from '../../lambdas/ports/send-queue.ts';
import type {
  SplitContinuation,
  SplitContinuations,
} from '../../lambdas/ports/split-continuations.ts';

/** Objects in memory, for unit tests of the core. */
export class InMemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { body: Uint8Array; contentType: string }>();

  put(bucket: string, key: string, body: string | Uint8Array): void {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    this.objects.set(`${bucket}/${key}`, { body: bytes, contentType: 'application/octet-stream' });
  }

  text(bucket: string, key: string): string | null {
    const object = this.objects.get(`${bucket}/${key}`);
    return object ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(object.body) : null;
  }

  async open(bucket: string, key: string): Promise<StoredObject | null> {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) return null;
    const bytes = object.body;
    return {
      body: (async function* () {
        // Small chunks, so that readers meet chunk boundaries as they would with S3.
        for (let start = 0; start < bytes.length; start += 7)
          yield bytes.subarray(start, start + 7);
      })(),
      size: bytes.length,
      eTag: `etag-${bytes.length}`,
      versionId: null,
    };
  }

  async write(
    bucket: string,
    key: string,
    body: AsyncIterable<string> | string,
    contentType: string,
  ): Promise<void> {
    let text = '';
    if (typeof body === 'string') text = body;
    else for await (const chunk of body) text += chunk;
    this.objects.set(`${bucket}/${key}`, { body: new TextEncoder().encode(text), contentType });
  }
}

/** A send queue that only records what was enqueued. */
export class RecordingSendQueue implements SendQueue {
  readonly sent: { message: SendMessage; delaySeconds: number }[] = [];

  async enqueue(messages: SendMessage[], options: EnqueueOptions = {}): Promise<void> {
    for (const message of messages) {
      this.sent.push({ message, delaySeconds: options.delaySeconds ?? 0 });
    }
  }
}

/** Split continuations recorded in order; a test delivers them (or not, or twice) by hand. */
export class RecordingContinuations implements SplitContinuations {
  readonly handedOver: SplitContinuation[] = [];

  async handOver(continuation: SplitContinuation): Promise<void> {
    this.handedOver.push({ ...continuation });
  }
}

/** Named leases held in memory, with the same rule as the DynamoDB adapter. */
export class InMemoryRunLease implements RunLease {
  readonly held = new Map<string, { holder: string; untilMs: number }>();

  async acquire(name: string, holder: string, nowMs: number, untilMs: number): Promise<boolean> {
    const current = this.held.get(name);
    if (current && current.untilMs >= nowMs) return false;
    this.held.set(name, { holder, untilMs });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    const current = this.held.get(name);
    if (current?.holder === holder) this.held.set(name, { holder, untilMs: 0 });
  }
}
