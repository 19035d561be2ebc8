import { afterEach, beforeEach, describe, it } from 'vitest';
import { runStoreConformance } from './conformance.js';
import { createMemoryStore } from './memory.js';

runStoreConformance({ name: 'memory', createStore: createMemoryStore, describe, it, beforeEach, afterEach });
