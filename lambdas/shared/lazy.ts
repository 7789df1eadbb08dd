/** Memoizes a factory: the context is built on the first invocation, once per cold start. */
export function lazy<T>(factory: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: factory() }).v;
}
