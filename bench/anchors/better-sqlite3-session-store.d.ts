// The published package ships no types: it exports a factory taking express-session.
declare module 'better-sqlite3-session-store' {
  function createStore(session: unknown): unknown;
  export = createStore;
}
