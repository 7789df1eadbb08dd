/** AWS tags (`[{ Key, Value }]`, the shape SageMaker, CloudWatch and most services take) from a record. */
export function toTags(tags: Readonly<Record<string, string>>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}
