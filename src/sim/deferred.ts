/** A promise with its resolve function outside, for a state that something else will settle later. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
