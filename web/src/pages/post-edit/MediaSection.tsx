// The media card: URL, kind and alt text per attachment (the document's media array when live).
//
// Live, the server refuses (closes the socket with 1008) an edit that writes a media entry
// whose URL is not http(s):// or media:, as REST would refuse it. So a URL being typed
// stays a local draft until it is a complete URL, then goes into the document: a new row
// is appended once its URL is valid; an existing row keeps its last valid URL in the
// document while its input holds an incomplete one.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError, MediaKind } from '../../api';
import { FieldError } from '../../components/ui';
import type { FormState, MediaForm } from './form';

/** What the live document accepts as a media URL (the server's rule). */
export function isMediaUrl(url: string): boolean {
  return /^(https?:\/\/.|media:.)/.test(url) && new TextEncoder().encode(url).length <= MAX_URL_BYTES;
}

export const MAX_URL_BYTES = 2048;
export const MAX_ALT_CHARS = 1500;

/**
 * Edits of the live document's media list. Each reads the list as it is at the time of the
 * call (not as it was at the last render: remote edits, or several keystrokes between two
 * renders, may have changed it since).
 */
export interface LiveMediaOps {
  /** Append an entry (its URL is valid); returns its index. */
  append: (m: MediaForm) => number;
  /** Change some fields of entry `i`. */
  patch: (i: number, patch: Partial<MediaForm>) => void;
  remove: (i: number) => void;
}

interface Props {
  form: FormState;
  err: ApiError | null;
  readOnly: boolean;
  editorPending: boolean;
  /** Not live (a new post): the form's list. */
  setMediaList: (media: MediaForm[]) => void;
  /** Live: the document's list (drafts until a URL is complete). */
  live?: LiveMediaOps | null;
}

interface Row {
  m: MediaForm;
  /** Index in form.media, or null for a new row not in the document yet. */
  docIndex: number | null;
  /** Index in the local new rows (docIndex null). */
  newIndex: number | null;
  /** The URL input holds a draft that is not (yet) a valid URL. */
  draft: boolean;
}

export function MediaSection({ form, err, readOnly, editorPending, setMediaList, live = null }: Props) {
  /** Live: URLs typed into existing rows that are not valid yet, by row. */
  const [urlDrafts, setUrlDrafts] = useState<Record<number, string>>({});
  /**
   * Live: rows added here whose URL is not valid yet; `at` once written to the document
   * (the row stays until the document's list shows it, so the input keeps its focus).
   */
  const [newRows, setNewRowsState] = useState<{ m: MediaForm; at?: number }[]>([]);
  // Read and written synchronously by the handlers (several keystrokes may come between two
  // renders); the state copy renders it.
  const newRowsRef = useRef(newRows);
  const setNewRows = (f: (r: { m: MediaForm; at?: number }[]) => { m: MediaForm; at?: number }[]) => {
    const next = f(newRowsRef.current);
    if (next === newRowsRef.current) return;
    newRowsRef.current = next;
    setNewRowsState(next);
  };

  // Someone removed rows meanwhile: drop drafts that no longer have a row.
  useEffect(() => {
    setUrlDrafts((d) => {
      const keys = Object.keys(d).map(Number);
      if (keys.every((k) => k < form.media.length)) return d;
      const next: Record<number, string> = {};
      for (const k of keys) if (k < form.media.length) next[k] = d[k]!;
      return next;
    });
    // New rows the document's list now shows are done.
    setNewRows((r) => (r.some((x) => x.at !== undefined && x.at < form.media.length) ? r.filter((x) => !(x.at !== undefined && x.at < form.media.length)) : r));
  }, [form.media.length]);

  const rows: Row[] = live
    ? [
        ...form.media.map((m, i) => ({
          m: i in urlDrafts ? { ...m, url: urlDrafts[i]! } : m,
          docIndex: i,
          newIndex: null,
          draft: i in urlDrafts,
        })),
        ...newRows
          .map((x, j) => ({ x, j }))
          .filter(({ x }) => !(x.at !== undefined && x.at < form.media.length))
          .map(({ x, j }) => ({ m: x.m, docIndex: null, newIndex: j, draft: x.at === undefined })),
      ]
    : form.media.map((m, i) => ({ m, docIndex: i, newIndex: null, draft: false }));

  const clearDraft = (i: number) =>
    setUrlDrafts((d) => {
      if (!(i in d)) return d;
      const next = { ...d };
      delete next[i];
      return next;
    });

  const change = (row: Row, patch: Partial<MediaForm>) => {
    const m = { ...row.m, ...patch };
    if (!live) {
      const media = form.media.slice();
      media[row.docIndex!] = m;
      setMediaList(media);
      return;
    }
    if (row.newIndex !== null) {
      const j = row.newIndex;
      const cur = newRowsRef.current[j];
      if (!cur) return;
      const next = { ...cur.m, ...patch };
      // A new row joins the document once its URL is complete; after that, its edits are
      // edits of that entry (until the list shows it as a document row).
      let at = cur.at;
      if (at !== undefined) {
        if (patch.url === undefined || isMediaUrl(next.url)) live.patch(at, patch);
      } else if (isMediaUrl(next.url)) at = live.append(next);
      setNewRows((r) => r.map((x, k) => (k === j ? { m: next, at } : x)));
      return;
    }
    const i = row.docIndex!;
    if (patch.url !== undefined && !isMediaUrl(patch.url)) {
      setUrlDrafts((d) => ({ ...d, [i]: patch.url! }));
      return;
    }
    if (patch.url !== undefined) clearDraft(i);
    // Only the fields changed: a URL still being typed elsewhere in the row stays a draft,
    // and the document keeps its valid URL.
    live.patch(i, patch);
  };

  const remove = (row: Row) => {
    if (row.newIndex !== null) {
      const j = row.newIndex;
      const at = newRowsRef.current[j]?.at;
      if (live && at !== undefined) live.remove(at);
      setNewRows((r) => r.filter((_, k) => k !== j));
      return;
    }
    if (live) {
      setUrlDrafts({});
      live.remove(row.docIndex!);
    } else setMediaList(form.media.filter((_, j) => j !== row.docIndex));
  };

  const add = () => {
    const blank: MediaForm = { url: '', kind: 'image', alt_text: '' };
    if (live) setNewRows((r) => [...r, { m: blank }]);
    else setMediaList([...form.media, blank]);
  };

  return (
    <section class="card">
      <h2>Media</h2>
      <FieldError error={err} name="media" />
      {rows.length === 0 && <p class="muted small">No media attached.</p>}
      <ul class="media-list" data-testid="media-list">
        {rows.map((row, i) => (
          // Keyed by position: a new row that joins the document stays the same element
          // (same place, last), so its input keeps the focus while the URL is typed.
          <li key={i} class="media-row" data-testid="media-row" data-draft={row.draft ? 'true' : 'false'}>
            <div class="field grow">
              <label for={`m-url-${i}`}>URL</label>
              <input
                id={`m-url-${i}`}
                type="url"
                value={row.m.url}
                placeholder="https://…"
                readOnly={readOnly}
                maxLength={MAX_URL_BYTES}
                onInput={(e) => change(row, { url: e.currentTarget.value })}
                data-testid="media-url"
              />
              {row.draft && !readOnly && (
                <p class="hint" data-testid="media-url-draft">
                  Saved once it is a complete http(s):// URL.
                </p>
              )}
              {row.docIndex !== null && <FieldError error={err} name={`media[${row.docIndex}].url`} />}
            </div>
            <div class="field">
              <label for={`m-kind-${i}`}>Kind</label>
              <select
                id={`m-kind-${i}`}
                value={row.m.kind}
                disabled={readOnly}
                onChange={(e) => change(row, { kind: (e.currentTarget as HTMLSelectElement).value as MediaKind })}
                data-testid="media-kind"
              >
                <option value="image">Image</option>
                <option value="video">Video</option>
                <option value="gif">GIF</option>
              </select>
            </div>
            <div class="field grow">
              <label for={`m-alt-${i}`}>Alt text</label>
              <input
                id={`m-alt-${i}`}
                value={row.m.alt_text}
                readOnly={readOnly}
                maxLength={MAX_ALT_CHARS}
                onInput={(e) => change(row, { alt_text: e.currentTarget.value })}
                data-testid="media-alt"
              />
            </div>
            {!readOnly && (
              <button
                type="button"
                class="btn btn-danger-ghost btn-sm"
                aria-label={`Remove media ${i + 1}`}
                onClick={() => remove(row)}
                data-testid="media-remove"
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {!readOnly && (
        <button type="button" class="btn btn-sm" disabled={editorPending} onClick={add} data-testid="media-add">
          + Add media URL
        </button>
      )}
    </section>
  );
}
