/**
 * S3 adapters of the {@link ObjectInventory} port. Where this stands: adapter, used by the
 * reconciler to find uploads whose event was lost.
 *
 * - {@link S3VersionInventory} lists object versions (ListObjectVersions) and keeps each key's
 *   latest: the data bucket is versioned, an upload's "Object Created" event carries the version
 *   id, and ingest derives the dataset id from it, so the listing must carry it too. A key whose
 *   latest version is a delete marker is not listed.
 * - {@link S3ListingInventory} lists current objects (ListObjectsV2, StartAfter paging): for a
 *   store without versioning (the local S3 server), where the version id does not exist.
 */
import { ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { InventoryObject, InventoryPage, ObjectInventory } from '../../core/ports/object-inventory';

/** S3 answers at most 1000 entries per listing call. */
const S3_MAX_KEYS = 1000;

/** The latest version of every key, through ListObjectVersions (s3:ListBucketVersions). */
export class S3VersionInventory implements ObjectInventory {
  constructor(private readonly client: S3Client) {}

  async listPage(
    bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage> {
    const objects: InventoryObject[] = [];
    // Without a VersionIdMarker, KeyMarker starts after that key (S3 API Reference, ListObjectVersions).
    let keyMarker = options.startAfter;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: prefix,
          MaxKeys: S3_MAX_KEYS,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
        }),
      );
      for (const version of page.Versions ?? []) {
        if (!version.IsLatest || version.Key === undefined) continue;
        objects.push({
          key: version.Key,
          size: version.Size ?? 0,
          ...(version.ETag !== undefined ? { etag: unquote(version.ETag) } : {}),
          ...(version.VersionId !== undefined ? { versionId: version.VersionId } : {}),
          lastModified: version.LastModified ?? new Date(0),
        });
        // Stopping inside a page is safe: the caller goes on after the last key returned.
        if (objects.length >= options.maxKeys) return { objects, truncated: true };
      }
      if (!page.IsTruncated) return { objects, truncated: false };
      // A page can end among one key's versions: both markers continue exactly there.
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }
}

/** Current objects through ListObjectsV2 (s3:ListBucket), for stores without versioning. */
export class S3ListingInventory implements ObjectInventory {
  constructor(private readonly client: S3Client) {}

  async listPage(
    bucket: string,
    prefix: string,
    options: { readonly startAfter?: string; readonly maxKeys: number },
  ): Promise<InventoryPage> {
    // StartAfter rather than continuation tokens: the next run resumes from a key it stored.
    const page = await this.client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        MaxKeys: Math.min(Math.max(options.maxKeys, 1), S3_MAX_KEYS),
        ...(options.startAfter !== undefined ? { StartAfter: options.startAfter } : {}),
      }),
    );
    const objects: InventoryObject[] = [];
    for (const item of page.Contents ?? []) {
      if (item.Key === undefined) continue;
      objects.push({
        key: item.Key,
        size: item.Size ?? 0,
        ...(item.ETag !== undefined ? { etag: unquote(item.ETag) } : {}),
        lastModified: item.LastModified ?? new Date(0),
      });
    }
    return { objects, truncated: page.IsTruncated ?? false };
  }
}

/** S3 returns ETags in double quotes. */
function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}
