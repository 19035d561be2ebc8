import { describe, expect, it } from 'vitest';
import { createAdmission } from './admission.js';
import { createCachedStore } from './cached.js';
import { sampleRecord } from './conformance.js';
import { createMemoryStore } from './memory.js';

describe('cache admission', () => {
  it('admits an id on its second read in this window or the next, not after two windows', () => {
    let t = 0;
    const admits = createAdmission(100, 1000, () => t);
    expect(admits('a')).toBe(false);
    expect(admits('a')).toBe(true);
    expect(admits('b')).toBe(false);
    t = 1999; // the next window: b was read in the last one
    expect(admits('b')).toBe(true);
    t = 4000; // two windows on: a read at 1999 is too old
    expect(admits('b')).toBe(false);
    expect(admits('b')).toBe(true);
  });

  it('tells many ids apart: one-off reads of 1,000 ids are almost all refused', () => {
    const admits = createAdmission(10_000, 1000, () => 0);
    let admitted = 0;
    for (let i = 0; i < 1000; i++) if (admits(`session-${i}-${'x'.repeat(12)}`)) admitted++;
    expect(admitted).toBeLessThan(10); // a slot shared by two ids lets one in early: 262,144 slots here
    for (let i = 0; i < 1000; i++) expect(admits(`session-${i}-${'x'.repeat(12)}`)).toBe(true);
  });

  it('the cached store holds a session from its second read, not from a read that came too late', async () => {
    const backing = createMemoryStore();
    let gets = 0;
    const counted = {
      ...backing,
      getNow: undefined,
      get: (id: string, options?: { fresh?: boolean }) => {
        gets++;
        return backing.get(id, options);
      },
    };
    const now = Date.now();
    const record = sampleRecord({ createdAt: now, lastSeenAt: now, expiresAt: now + 600_000 });
    await backing.create(record, 10);
    // Too late: three windows apart, the first read is forgotten (a slower machine only makes it later).
    const late = await createCachedStore(counted, { maxStalenessMs: 200 });
    await late.get(record.id);
    await new Promise((r) => setTimeout(r, 700));
    await late.get(record.id);
    expect(gets).toBe(2);
    expect(late.stats.hits).toBe(0);
    // In time (a window of ten minutes, so no pause of the machine can make it late): held from the second.
    const timely = await createCachedStore(counted, { maxStalenessMs: 600_000 });
    for (let i = 0; i < 3; i++) await timely.get(record.id);
    expect(gets).toBe(4);
    expect(timely.stats).toEqual({ hits: 1, misses: 2 });
  });
});
