import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { runOneTimeTokenStoreConformance } from './conformance.js';
import { createMemoryOneTimeStore } from './memory.js';

runOneTimeTokenStoreConformance({
  name: 'memory',
  createStore: () => createMemoryOneTimeStore(),
  describe,
  it,
  beforeEach,
  afterEach,
});

describe('memory one-time store', () => {
  it('takes no arguments, and says where a database client goes instead', () => {
    expect(() => createMemoryOneTimeStore(new Map() as never)).toThrow(ConfigurationError);
    expect(() => createMemoryOneTimeStore({ query: async () => ({ rows: [] }) } as never)).toThrow(
      "createMemoryOneTimeStore keeps tokens in this process and takes no arguments; got a PostgreSQL client or pool: for a database, use createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite'",
    );
    expect(() => createMemoryOneTimeStore({ ttl: 1 } as never)).toThrow(/unknown option "ttl".*takes no options/);
  });
});
