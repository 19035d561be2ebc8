/**
 * Notes, from IndexedDB first (so the page works offline), synced through the outbox. Text read
 * back from the database is rendered as text by React, never as HTML (B2).
 */
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import {
  deleteNote,
  keepMine,
  listNotes,
  type Note,
  onNotesChanged,
  pendingChanges,
  saveNote,
  takeTheirs,
} from '../notes-db.js';
import { DownstreamTip } from './Tip.js';

const emptyId = () => crypto.randomUUID();

function NoteForm({ editing, onDone }: { editing: Note | null; onDone: () => void }) {
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const element = e.currentTarget; // React clears currentTarget once the handler awaits
    const form = new FormData(element);
    const tags = String(form.get('tags') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
      .slice(0, 10);
    await saveNote({
      id: editing?.id ?? emptyId(),
      title: String(form.get('title') ?? '').slice(0, 200),
      body: String(form.get('body') ?? '').slice(0, 10_000),
      pinned: form.get('pinned') === 'on',
      priority: Number(form.get('priority') ?? 0),
      tags,
      updatedAt: new Date(),
      version: editing?.version ?? 0,
    });
    element.reset();
    onDone();
  };
  return (
    <form
      className="card note-form"
      onSubmit={(e) => void submit(e)}
      key={editing?.id ?? 'new'}
      aria-label={editing ? 'Edit note' : 'New note'}
    >
      <h2>{editing ? 'Edit note' : 'New note'}</h2>
      <label>
        Title
        <input name="title" required maxLength={200} defaultValue={editing?.title ?? ''} />
      </label>
      <label>
        Text
        <textarea name="body" rows={4} maxLength={10_000} defaultValue={editing?.body ?? ''} />
      </label>
      <div className="row">
        <label className="inline">
          <input type="checkbox" name="pinned" defaultChecked={editing?.pinned ?? false} /> Pinned
        </label>
        <label className="inline">
          Priority{' '}
          <select name="priority" defaultValue={String(editing?.priority ?? 0)}>
            {[0, 1, 2, 3, 4, 5].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label className="inline grow">
          Tags <input name="tags" placeholder="home, work" defaultValue={editing?.tags.join(', ') ?? ''} />
        </label>
      </div>
      <div className="row">
        <button type="submit">{editing ? 'Save' : 'Add note'}</button>
        {editing ? (
          <button type="button" className="quiet" onClick={onDone}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

export function Notes() {
  const [notes, setNotes] = useState<Note[] | null>(null);
  // null until read: "All changes saved." is said only once the outbox was counted.
  const [pending, setPending] = useState<number | null>(null);
  const [editing, setEditing] = useState<Note | null>(null);
  const [error, setError] = useState('');
  const latest = useRef(0);
  const refresh = useCallback(async () => {
    const run = ++latest.current;
    try {
      // The list and the count together, from the latest refresh only: a slower earlier one
      // must not show a note with the count from before it was queued.
      const [list, count] = await Promise.all([listNotes(), pendingChanges()]);
      if (run !== latest.current) return;
      setNotes(list);
      setPending(count);
    } catch {
      setError('This device’s notes could not be read.');
    }
  }, []);
  useEffect(() => {
    void refresh();
    return onNotesChanged(() => void refresh());
  }, [refresh]);

  return (
    <section aria-labelledby="notes-title">
      <h1 id="notes-title">Notes</h1>
      <p className="hint" role="status">
        {pending === null
          ? ''
          : pending > 0
            ? `${pending} change${pending === 1 ? '' : 's'} waiting to be sent.`
            : 'All changes saved.'}
      </p>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <DownstreamTip />
      <NoteForm editing={editing} onDone={() => setEditing(null)} />
      {notes === null ? (
        <p role="status">Loading notes…</p>
      ) : notes.length === 0 ? (
        <p>No notes yet.</p>
      ) : (
        <ul className="notes">
          {notes.map((note) => (
            <li key={note.id} className={note.pinned ? 'note pinned' : 'note'}>
              <h3>
                {note.title}
                {note.pinned ? <span className="tag pin">Pinned</span> : null}
              </h3>
              <p className="body">{note.body}</p>
              <p className="meta">
                Priority {note.priority} · {note.tags.length > 0 ? `${note.tags.join(', ')} · ` : ''}
                <time dateTime={note.updatedAt.toISOString()}>{note.updatedAt.toLocaleString()}</time>
              </p>
              {note.conflict !== undefined ? (
                <div className="conflict" role="alert">
                  <p>
                    <strong>Changed on another device.</strong>{' '}
                    {note.conflict ? `The server has “${note.conflict.title}”.` : 'It was deleted there.'} Which one do
                    you keep?
                  </p>
                  <button type="button" onClick={() => void keepMine(note)}>
                    Keep mine
                  </button>{' '}
                  <button type="button" className="quiet" onClick={() => void takeTheirs(note)}>
                    Use theirs
                  </button>
                </div>
              ) : null}
              <div className="row">
                <button
                  type="button"
                  className="quiet"
                  onClick={() => setEditing(note)}
                  aria-label={`Edit ${note.title}`}
                >
                  Edit
                </button>
                <button
                  type="button"
                  className="quiet"
                  onClick={() => void deleteNote(note)}
                  aria-label={`Delete ${note.title}`}
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
