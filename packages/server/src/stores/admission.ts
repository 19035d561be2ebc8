/**
 * Which reads the cached store keeps: a session read for the second time within about one
 * staleness window (a "doorkeeper", as in TinyLFU).
 *
 * Why: an entry lives at most `maxStalenessMs` (one second by default), so a session read once in
 * that time gains nothing from being held, and holding it is what a cache miss costs beyond the
 * store: the record outlives the young generation, is copied by each scavenge, and then has to be
 * collected from the old one (#18: a miss must cost no more than the store alone). A page load
 * that sends a burst of requests pays one extra store read.
 *
 * A table of one-byte window stamps indexed by a hash of the id: nothing is allocated or retained
 * per read, so the check itself leaves the garbage collector nothing. Two ids that share a slot
 * only let a record in one read early, and so does a stamp 255 windows old: admission decides
 * what is held, never what is served. With the default 10,000 entries the table has 262,144
 * slots (256 KiB); past about half as many distinct sessions read per window, most reads are
 * let in, as without admission.
 */

/** Slots per entry the cache holds (up to 262,144 entries; fewer per entry above, as MAX_SLOTS caps the table at 4 MiB). */
const SLOTS_PER_ENTRY = 16;
const MIN_SLOTS = 1024;
const MAX_SLOTS = 1 << 22;
/** Stamps run 1..255 and wrap; 0 means "never read". */
const stampOf = (window: number) => (((window % 255) + 255) % 255) + 1; // an injected clock may be negative

/**
 * A doorkeeper for a cache of `maxEntries` whose entries live `windowMs`: `admits(id)` records
 * the read and answers whether the same id was read in this window or the one before.
 */
export function createAdmission(
  maxEntries: number,
  windowMs: number,
  clock: () => number = () => performance.now(),
): (id: string) => boolean {
  let slots = MIN_SLOTS;
  while (slots < maxEntries * SLOTS_PER_ENTRY && slots < MAX_SLOTS) slots *= 2;
  const mask = slots - 1;
  const stamps = new Uint8Array(slots);
  return function admits(id: string): boolean {
    // FNV-1a over the id: session ids are random, but a store may be given ids that are not.
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    h ^= h >>> 16; // the high bits too: a small table would see only the last characters' low bits
    const slot = (h >>> 0) & mask;
    const window = Math.floor(clock() / windowMs);
    const stamp = stampOf(window);
    const last = stamps[slot] as number;
    stamps[slot] = stamp;
    return last === stamp || last === stampOf(window + 254); // this window, or the one before
  };
}
