import { afterEach, beforeEach, describe, it } from 'vitest';
import { runRefreshStoreConformance } from './conformance.js';
import { createMemoryRefreshStore } from './refresh-memory.js';

runRefreshStoreConformance({
  name: 'memory',
  createStore: () => createMemoryRefreshStore(),
  describe,
  it,
  beforeEach,
  afterEach,
});
