import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { createDevInbox, type DevInboxMessage } from './dev-inbox.js';
import { createMailQueue } from './queue.js';

const nodeEnv = process.env.NODE_ENV;
afterEach(() => {
  if (nodeEnv === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = nodeEnv;
});

describe('createDevInbox', () => {
  it('keeps the last max messages, newest first, with the links of their text', async () => {
    const inbox = createDevInbox({ max: 2 });
    await inbox.send({ to: 'ann@example.com', subject: 'First', text: 'nothing to click' });
    await inbox.send({
      to: 'Bob@Bücher.example',
      subject: 'Finish signing up',
      text: 'Open https://app.example/verify#tok-1 or http://localhost:5173/verify#tok-1, then "https://app.example/help".',
      html: '<a href="https://app.example/verify#tok-1">Verify</a>',
    });
    await inbox.send({ to: 'cy@example.com', subject: 'Third', text: 'x' });
    const list = inbox.list();
    expect(list.map((m) => [m.to, m.subject])).toEqual([
      ['cy@example.com', 'Third'],
      ['Bob@xn--bcher-kva.example', 'Finish signing up'],
    ]);
    expect(list[1]).toMatchObject({
      html: '<a href="https://app.example/verify#tok-1">Verify</a>',
      links: ['https://app.example/verify#tok-1', 'http://localhost:5173/verify#tok-1', 'https://app.example/help'],
    });
    expect(list[1]?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(list[1]?.id).not.toBe(list[0]?.id);
    expect(Math.abs((list[0]?.sentAt ?? 0) - Date.now())).toBeLessThan(1000);
    // What list returns is a copy: changing it changes nothing kept.
    list.pop();
    expect(() => {
      (list[0] as { subject: string }).subject = 'changed';
    }).toThrow(TypeError);
    expect(inbox.list()).toHaveLength(2);
    inbox.clear();
    expect(inbox.list()).toEqual([]);
  });

  it('tells listeners about each message, until they unsubscribe; a listener that throws fails nothing', async () => {
    const inbox = createDevInbox();
    const seen: DevInboxMessage[] = [];
    const stop = inbox.onMessage((m) => seen.push(m));
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      inbox.onMessage(() => {
        throw new Error('printer broke');
      });
      await inbox.send({ to: 'ann@example.com', subject: 'One', text: 'https://app.example/a' });
      stop();
      await inbox.send({ to: 'ann@example.com', subject: 'Two', text: 'x' });
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    expect(seen.map((m) => [m.subject, m.links])).toEqual([['One', ['https://app.example/a']]]);
    expect(inbox.list()).toHaveLength(2);
  });

  it('refuses what every mailer refuses (header injection), and keeps nothing of it', async () => {
    const inbox = createDevInbox();
    await expect(
      inbox.send({ to: 'ann@example.com\r\nBcc: x@attacker.example', subject: 'Hi', text: 'x' }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(
      inbox.send({ to: 'ann@example.com', subject: 'Hi\nBcc: x@attacker.example', text: 'x' }),
    ).rejects.toThrow(/^subject holds a line break/);
    expect(inbox.list()).toEqual([]);
  });

  it('works behind the queue', async () => {
    const inbox = createDevInbox();
    const queue = createMailQueue(inbox);
    await queue.send({ to: 'ann@example.com', subject: 'Queued', text: 'x' });
    await queue.drain();
    expect(inbox.list().map((m) => m.subject)).toEqual(['Queued']);
  });

  it('refuses to exist with NODE_ENV=production, and one made earlier stops working', async () => {
    const inbox = createDevInbox();
    process.env.NODE_ENV = 'production';
    expect(() => createDevInbox()).toThrow(ConfigurationError);
    expect(() => createDevInbox()).toThrow(
      /^createDevInbox is for development and refuses to run with NODE_ENV=production: it would show every reset and sign-up link/,
    );
    await expect(inbox.send({ to: 'ann@example.com', subject: 'Hi', text: 'x' })).rejects.toThrow(ConfigurationError);
    expect(() => inbox.list()).toThrow(ConfigurationError);
    process.env.NODE_ENV = 'development';
    expect(inbox.list()).toEqual([]);
  });

  it('checks its options', () => {
    expect(() => createDevInbox({ max: 0 })).toThrow(/^max must be a whole number of messages from 1 to 1000/);
    expect(() => createDevInbox({ limit: 5 } as never)).toThrow(/did you mean "max"/);
  });
});
