/**
 * The reconciler's ports in the local cloud. Where this stands: local runtime; the supervisor
 * (cloud.ts) runs the reconciler handler on its schedule with these.
 *
 * - {@link BusRedelivery}: a lost event is published again on the local event bus, where the
 *   stack's rules route it to the same handler as in AWS (ingest through its queue semantics, the
 *   lifecycle handlers directly).
 * - {@link ObjectIdentityLedger} and {@link LedgerInventory}: the local S3 server keeps no object
 *   versions, so its "Object Created" events carry a sequencer instead of a version id, and ingest
 *   derives the dataset id from it. A listing cannot know that sequencer; the ledger remembers the
 *   identity each upload's event carried (in `<dir>/s3-object-events.jsonl`), and the inventory
 *   lists the server and adds it, so that the reconciler derives the very id ingest recorded.
 *   Objects older than the ledger (a data folder from before it) are not listed: their events
 *   were delivered by an earlier local cloud, whose identities are unknown.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  endpointStateChangeEvent,
  objectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../adapters/aws/redelivered-events';
import { BUCKET_PREFIXES } from '../core/domain/naming';
import type { EventRedelivery, RedeliveredObject } from '../core/ports/event-redelivery';
import type { InventoryPage, ObjectInventory } from '../core/ports/object-inventory';
import { LOCAL_ACCOUNT, LOCAL_REGION, type CloudEvent, type EventPublisher } from './contracts';

const origin = { region: LOCAL_REGION, account: LOCAL_ACCOUNT };

/** Re-delivers lost events on the local event bus. */
export class BusRedelivery implements EventRedelivery {
  constructor(private readonly bus: EventPublisher) {}

  objectCreated(object: RedeliveredObject): Promise<void> {
    this.bus.publish(objectCreatedEvent(object, origin));
    return Promise.resolve();
  }

  trainingJobStateChange(change: { jobName: string; status: string }): Promise<void> {
    this.bus.publish(trainingJobStateChangeEvent(change, origin));
    return Promise.resolve();
  }

  endpointStateChange(change: { endpointName: string; status: string; configName?: string }): Promise<void> {
    this.bus.publish(endpointStateChangeEvent(change, origin));
    return Promise.resolve();
  }
}

/** What an upload's event said about the object. */
interface Identity {
  readonly etag?: string;
  readonly versionId?: string;
  readonly sequencer?: string;
}

/** The identity of every dataset upload's "Object Created" event, kept on disk. */
export class ObjectIdentityLedger {
  private readonly identities = new Map<string, Identity>();
  /** Objects written before this were not seen by the ledger. */
  readonly since: Date;

  constructor(private readonly file: string) {
    let since: Date | undefined;
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const entry = JSON.parse(line) as { since?: string; bucket?: string; key?: string } & Identity;
          if (entry.since) since ??= new Date(entry.since);
          else if (entry.bucket && entry.key)
            this.identities.set(id(entry.bucket, entry.key), identityOf(entry));
        } catch {
          // A line cut short by a crash: the ones before it still count.
        }
      }
    }
    if (!since || Number.isNaN(since.getTime())) {
      since = new Date();
      this.append({ since: since.toISOString() });
    }
    this.since = since;
  }

  /** Wraps a publisher: every dataset "Object Created" passing through is remembered, then forwarded. */
  recording(next: EventPublisher): EventPublisher {
    return {
      publish: (event: CloudEvent) => {
        this.record(event);
        next.publish(event);
      },
    };
  }

  /** Remembers the identity of a dataset upload's "Object Created" event; other events are ignored. */
  record(event: CloudEvent): void {
    if (event.source !== 'aws.s3' || event['detail-type'] !== 'Object Created') return;
    const detail = event.detail as {
      bucket?: { name?: string };
      object?: { key?: string; etag?: string; 'version-id'?: string; sequencer?: string };
    };
    const bucket = detail.bucket?.name;
    const key = detail.object?.key;
    if (!bucket || !key?.startsWith(BUCKET_PREFIXES.datasets)) return;
    const identity = identityOf({
      ...(detail.object?.etag !== undefined ? { etag: detail.object.etag } : {}),
      ...(detail.object?.['version-id'] !== undefined ? { versionId: detail.object['version-id'] } : {}),
      ...(detail.object?.sequencer !== undefined ? { sequencer: detail.object.sequencer } : {}),
    });
    this.identities.set(id(bucket, key), identity);
    this.append({ bucket, key, ...identity });
  }

  /** The identity the last event of this object carried, if it was about this content (same ETag). */
  lookup(bucket: string, key: string, etag: string | undefined): Identity | undefined {
    const identity = this.identities.get(id(bucket, key));
    return identity && identity.etag === etag ? identity : undefined;
  }

  private append(entry: unknown): void {
    // Synchronous: the identity is on disk before the event is delivered.
    mkdirSync(dirname(this.file), { recursive: true });
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}

/** An inventory of the local S3 server with the identities of the ledger. */
export class LedgerInventory implements ObjectInventory {
  constructor(
    private readonly listing: ObjectInventory,
    private readonly ledger: ObjectIdentityLedger,
  ) {}

  async listPage(
    bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage> {
    const page = await this.listing.listPage(bucket, prefix, options);
    const lastKey = page.lastKey ?? page.objects.at(-1)?.key;
    return {
      truncated: page.truncated,
      // Objects left out here still move the scan on: the next page starts after the last key listed.
      ...(lastKey !== undefined ? { lastKey } : {}),
      objects: page.objects.flatMap((object) => {
        if (object.lastModified < this.ledger.since) return [];
        const identity = this.ledger.lookup(bucket, object.key, object.etag);
        return [
          {
            ...object,
            ...(identity?.versionId !== undefined ? { versionId: identity.versionId } : {}),
            ...(identity?.sequencer !== undefined ? { sequencer: identity.sequencer } : {}),
          },
        ];
      }),
    };
  }
}

function id(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

function identityOf(entry: Identity): Identity {
  return {
    ...(entry.etag !== undefined ? { etag: entry.etag } : {}),
    ...(entry.versionId !== undefined ? { versionId: entry.versionId } : {}),
    ...(entry.sequencer !== undefined ? { sequencer: entry.sequencer } : {}),
  };
}
