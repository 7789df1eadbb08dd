import { describe, expect, it } from 'vitest';
import { AsyncChannel } from '../../../core/support/async-channel';

/** Lets every pending promise callback run (no clock involved: the macrotask queue drains microtasks first). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drain<T>(channel: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of channel) items.push(item);
  return items;
}

describe('AsyncChannel', () => {
  it('delivers items in order, then ends on close', async () => {
    const channel = new AsyncChannel<number>(4);
    const consumed = drain(channel);
    for (let i = 0; i < 100; i++) await channel.push(i);
    channel.close();
    expect(await consumed).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('drains the buffered items after close', async () => {
    const channel = new AsyncChannel<string>(8);
    await channel.push('a');
    await channel.push('b');
    await channel.push('c');
    channel.close();
    expect(await drain(channel)).toEqual(['a', 'b', 'c']);
  });

  it('ends an empty channel on close, also when the consumer is already waiting', async () => {
    const closedFirst = new AsyncChannel<number>();
    closedFirst.close();
    expect(await drain(closedFirst)).toEqual([]);

    const channel = new AsyncChannel<number>();
    let done = false;
    const consumed = drain(channel).then((items) => {
      done = true;
      return items;
    });
    await settle();
    expect(done).toBe(false);
    channel.close();
    expect(await consumed).toEqual([]);
  });

  it('wakes a waiting consumer when an item arrives', async () => {
    const channel = new AsyncChannel<number>(2);
    const iterator = channel[Symbol.asyncIterator]();
    let received: IteratorResult<number> | undefined;
    const next = iterator.next().then((result) => (received = result));
    await settle();
    expect(received).toBeUndefined();
    await channel.push(7);
    await next;
    expect(received).toEqual({ value: 7, done: false });
  });

  it('blocks the producer while the buffer is full, until the consumer reads', async () => {
    const channel = new AsyncChannel<number>(3);
    let pushed = 0;
    const producer = (async () => {
      for (let i = 0; i < 10; i++) {
        await channel.push(i);
        pushed++;
      }
      channel.close();
    })();

    await settle();
    expect(pushed).toBe(3); // the buffer is full; the fourth push waits

    const iterator = channel[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first).toEqual({ value: 0, done: false });
    await settle();
    expect(pushed).toBe(4); // one read made room for exactly one more

    await settle();
    expect(pushed).toBe(4); // and no more without another read

    const seen = [first.value];
    for (;;) {
      const result = await iterator.next();
      if (result.done) break;
      seen.push(result.value);
      // The producer never runs more than the capacity ahead of the consumer.
      expect(pushed - seen.length).toBeLessThanOrEqual(3);
    }
    await producer;
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pushed).toBe(10);
  });

  it('works with a capacity of one', async () => {
    const channel = new AsyncChannel<number>(1);
    const producer = (async () => {
      for (let i = 0; i < 20; i++) await channel.push(i);
      channel.close();
    })();
    expect(await drain(channel)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await producer;
  });

  it('propagates a failure to the consumer', async () => {
    const channel = new AsyncChannel<number>(4);
    const boom = new Error('upload failed');
    const consumed = drain(channel);
    await channel.push(1);
    await settle();
    channel.fail(boom);
    await expect(consumed).rejects.toBe(boom);
  });

  it('fails a consumer that starts after the failure, even with items buffered', async () => {
    const channel = new AsyncChannel<number>(4);
    await channel.push(1);
    const boom = new Error('read failed');
    channel.fail(boom);
    await expect(drain(channel)).rejects.toBe(boom);
  });

  it('propagates a failure to a producer blocked on a full buffer', async () => {
    const channel = new AsyncChannel<number>(2);
    await channel.push(1);
    await channel.push(2);
    let settled = false;
    const blocked = channel.push(3).finally(() => (settled = true));
    await settle();
    expect(settled).toBe(false);
    const boom = new Error('consumer gave up');
    channel.fail(boom);
    await expect(blocked).rejects.toBe(boom);
  });

  it('refuses pushes after a failure and keeps the first error', async () => {
    const channel = new AsyncChannel<number>(2);
    const first = new Error('first');
    channel.fail(first);
    channel.fail(new Error('second'));
    await expect(channel.push(1)).rejects.toBe(first);
    await expect(drain(channel)).rejects.toBe(first);
  });

  it('carries falsy values', async () => {
    const channel = new AsyncChannel<number | string | boolean | null>(2);
    const consumed = drain(channel);
    for (const item of [0, '', false, null]) await channel.push(item);
    channel.close();
    expect(await consumed).toEqual([0, '', false, null]);
  });
});
