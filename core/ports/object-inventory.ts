/**
 * Port: a paged inventory of the objects under a prefix, with what identifies each object's
 * current version and when it was written. Where this stands: core port, used by the reconcile use
 * case to find uploads whose event was lost. In AWS the adapter lists object versions (the data
 * bucket is versioned: an upload's event carries its version id, and so must the listing, for the
 * dataset id to come out the same); the local cloud lists its S3 server and adds the identity its
 * events carried.
 */

/** The current version of one object. */
export interface InventoryObject {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
  /** The sequencer of the object's "Object Created" event, where the store knows it (local cloud). */
  readonly sequencer?: string;
  readonly lastModified: Date;
}

/** One page of an inventory, in key order. */
export interface InventoryPage {
  readonly objects: readonly InventoryObject[];
  /** True when keys after the last one of this page remain. */
  readonly truncated: boolean;
  /**
   * The last key the page covered, where the next page starts after: set when the store left
   * some keys out of `objects`. @default the key of the last object
   */
  readonly lastKey?: string;
}

/**
 * Lists the bucket page by page for `Reconcile` (core/use-cases/reconcile.ts), which looks for uploads
 * ingest never recorded. Implemented by `S3VersionInventory` (a versioned bucket, as in AWS) and
 * `S3ListingInventory` (a store without versioning) in adapters/aws/s3-object-inventory.ts, and by
 * `LedgerInventory` (local/reconciler.ts). Each object must carry the identity its "Object Created"
 * event carried (version id, sequencer or ETag), or the dataset id derived from it is not ingest's.
 */
export interface ObjectInventory {
  /**
   * Up to `maxKeys` current objects under `prefix`, in key order, starting after `startAfter`
   * (from the first key when absent). Deleted objects are not listed.
   */
  listPage(
    bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage>;
}
