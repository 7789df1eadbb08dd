/**
 * A bounded single-producer, single-consumer channel: the producer awaits `push` when the buffer is
 * full, so a fast reader never runs ahead of a slow writer (bounded memory on any file size).
 * Where this stands: core support; ingest uses one per prepared channel.
 */
export class AsyncChannel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private closed = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly capacity = 16) {}

  /** Adds an item, waiting while the buffer is full. */
  async push(item: T): Promise<void> {
    while (this.buffer.length >= this.capacity && !this.failure) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    if (this.failure) throw this.failure.error;
    this.buffer.push(item);
    this.wake('consumer');
  }

  /** No more items: the consumer ends after draining the buffer. */
  close(): void {
    this.closed = true;
    this.wake('consumer');
  }

  /** Ends the channel with an error: the consumer throws it, a waiting producer too. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake('consumer');
    this.wake('producer');
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const item = this.buffer.shift();
      if (item !== undefined) {
        this.wake('producer');
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  private wake(who: 'consumer' | 'producer'): void {
    const wake = who === 'consumer' ? this.wakeConsumer : this.wakeProducer;
    if (who === 'consumer') this.wakeConsumer = undefined;
    else this.wakeProducer = undefined;
    wake?.();
  }
}
