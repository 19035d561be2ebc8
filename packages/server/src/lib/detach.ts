/**
 * A string to keep beyond the request that brought it. Why: V8 makes `slice` of a long string
 * a view onto the whole string, not a copy, so a token cut from a Cookie header keeps the whole
 * header alive as long as the token is kept (every cookie the browser sent beside ours, up to the
 * server's header limit: 16 KB per entry of a long-lived map). Call it where a request's string
 * goes into something that outlives the request, never on the path every request takes (a cache
 * hit): the copy costs a string allocation.
 *
 * Joining forces V8 to write a new flat string (the space is copied with the value), and the
 * slice then views that copy. No library does this one line; `header-retention-attack.test.ts`
 * checks over real HTTP that it holds on the running V8.
 */
export function detach(value: string): string {
  return ` ${value}`.slice(1);
}
