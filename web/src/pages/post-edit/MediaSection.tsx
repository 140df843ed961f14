// The media card: URL, kind and alt text per attachment (the document's media array when live).
import type { ApiError, MediaKind } from '../../api';
import { FieldError } from '../../components/ui';
import type { FormState, MediaForm } from './form';

interface Props {
  form: FormState;
  err: ApiError | null;
  readOnly: boolean;
  editorPending: boolean;
  setMediaList: (media: MediaForm[]) => void;
}

export function MediaSection({ form, err, readOnly, editorPending, setMediaList }: Props) {
  return (
    <section class="card">
      <h2>Media</h2>
      <FieldError error={err} name="media" />
      {form.media.length === 0 && <p class="muted small">No media attached.</p>}
      <ul class="media-list" data-testid="media-list">
        {form.media.map((m, i) => (
          <li key={i} class="media-row" data-testid="media-row">
            <div class="field grow">
              <label for={`m-url-${i}`}>URL</label>
              <input
                id={`m-url-${i}`}
                type="url"
                value={m.url}
                placeholder="https://…"
                readOnly={readOnly}
                onInput={(e) => {
                  const media = form.media.slice();
                  media[i] = { ...m, url: e.currentTarget.value };
                  setMediaList(media);
                }}
                data-testid="media-url"
              />
              <FieldError error={err} name={`media[${i}].url`} />
            </div>
            <div class="field">
              <label for={`m-kind-${i}`}>Kind</label>
              <select
                id={`m-kind-${i}`}
                value={m.kind}
                disabled={readOnly}
                onChange={(e) => {
                  const media = form.media.slice();
                  media[i] = { ...m, kind: (e.currentTarget as HTMLSelectElement).value as MediaKind };
                  setMediaList(media);
                }}
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
                value={m.alt_text}
                readOnly={readOnly}
                onInput={(e) => {
                  const media = form.media.slice();
                  media[i] = { ...m, alt_text: e.currentTarget.value };
                  setMediaList(media);
                }}
                data-testid="media-alt"
              />
            </div>
            {!readOnly && (
              <button
                type="button"
                class="btn btn-danger-ghost btn-sm"
                aria-label={`Remove media ${i + 1}`}
                onClick={() => setMediaList(form.media.filter((_, j) => j !== i))}
                data-testid="media-remove"
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {!readOnly && (
        <button
          type="button"
          class="btn btn-sm"
          disabled={editorPending}
          onClick={() => setMediaList([...form.media, { url: '', kind: 'image', alt_text: '' }])}
          data-testid="media-add"
        >
          + Add media URL
        </button>
      )}
    </section>
  );
}
