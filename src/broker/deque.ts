/**
 * A ring-buffer double-ended queue: O(1) push/shift at both ends, O(1)
 * indexed access, and an O(n) middle insert for the rare requeue that lands
 * between ready messages.
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private size = 0;
  private mask: number;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.items = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.items[this.head] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    if (this.size === 0) this.head = 0;
    return item;
  }

  pop(): T | undefined {
    if (this.size === 0) return undefined;
    const at = (this.head + this.size - 1) & this.mask;
    const item = this.items[at];
    this.items[at] = undefined;
    this.size--;
    return item;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  peekLast(): T | undefined {
    return this.size === 0 ? undefined : this.items[(this.head + this.size - 1) & this.mask];
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    return this.items[(this.head + index) & this.mask];
  }

  /** Inserts so that `item` ends up at `index` (0 ≤ index ≤ length). */
  insertAt(index: number, item: T): void {
    if (index <= 0) return this.unshift(item);
    if (index >= this.size) return this.push(item);
    this.push(item); // grow if needed; the slot is overwritten by the shift below
    for (let i = this.size - 1; i > index; i--) {
      this.items[(this.head + i) & this.mask] = this.items[(this.head + i - 1) & this.mask];
    }
    this.items[(this.head + index) & this.mask] = item;
  }

  /** Removes the item at `index` (O(n)). */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    if (index === 0) return this.shift();
    const item = this.items[(this.head + index) & this.mask];
    for (let i = index; i < this.size - 1; i++) {
      this.items[(this.head + i) & this.mask] = this.items[(this.head + i + 1) & this.mask];
    }
    this.items[(this.head + this.size - 1) & this.mask] = undefined;
    this.size--;
    return item;
  }

  /** First index whose key is ≥ `key`, for a deque sorted by `keyOf` (binary search). */
  lowerBound(key: number, keyOf: (item: T) => number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyOf(this.items[(this.head + mid) & this.mask] as T) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  clear(): void {
    this.items = new Array<T | undefined>(16);
    this.mask = 15;
    this.head = 0;
    this.size = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) yield this.items[(this.head + i) & this.mask] as T;
  }

  private grow(): void {
    const old = this.items;
    const cap = old.length * 2;
    const next = new Array<T | undefined>(cap);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = cap - 1;
  }
}
