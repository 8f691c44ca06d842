/** A bounded FIFO that an async iterator reads from. */

export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly readers: Array<(result: IteratorResult<T, undefined>) => void> = [];
  private ended = false;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  /** False when full or ended (the item was not taken). */
  push(item: T): boolean {
    if (this.ended) return false;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      reader({ value: item, done: false });
      return true;
    }
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /** Replaces the first queued item that `matches`; false when none does. */
  replace(matches: (item: T) => boolean, item: T): boolean {
    const index = this.items.findIndex(matches);
    if (index < 0) return false;
    this.items[index] = item;
    return true;
  }

  /** Drops every queued item that `matches`; returns how many. */
  removeWhere(matches: (item: T) => boolean): number {
    const before = this.items.length;
    const kept = this.items.filter((item) => !matches(item));
    this.items.splice(0, this.items.length, ...kept);
    return before - kept.length;
  }

  /** Ends reading; returns what was still queued. */
  end(): T[] {
    this.ended = true;
    for (const reader of this.readers.splice(0)) reader({ value: undefined, done: true });
    return this.items.splice(0);
  }

  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.readers.push(resolve));
  }
}
