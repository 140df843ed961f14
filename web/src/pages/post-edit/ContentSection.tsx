// The first card of the post form: title, shared caption (a live editor for an existing
// post, a textarea for a new one) and the platforms to publish to.
import type { JSX } from 'preact';
import type { ApiError, Platform } from '../../api';
import { FieldError } from '../../components/ui';
import { PLATFORMS, countChars } from '../../platforms';
import type { FormState } from './form';

/** Longest title (REST and the live document's edit rules agree). */
const MAX_TITLE_CHARS = 200;

interface Props {
  form: FormState;
  err: ApiError | null;
  readOnly: boolean;
  editorPending: boolean;
  liveEditors: boolean;
  captionEditor: JSX.Element;
  setTitleValue: (title: string) => void;
  togglePlatform: (pl: Platform, on: boolean) => void;
}

export function ContentSection({ form, err, readOnly, editorPending, liveEditors, captionEditor, setTitleValue, togglePlatform }: Props) {
  return (
    <section class="card">
      <div class="field">
        <label for="f-title">Title</label>
        <input
          id="f-title"
          value={form.title}
          onInput={(e) => setTitleValue(e.currentTarget.value)}
          placeholder="Internal name, e.g. “Summer launch teaser”"
          aria-invalid={err?.fields.title ? 'true' : undefined}
          readOnly={readOnly || editorPending}
          maxLength={MAX_TITLE_CHARS}
          data-testid="post-title"
        />
        <FieldError error={err} name="title" />
      </div>

      <div class="field">
        <label for="f-caption" id="caption-label">
          Shared caption
        </label>
        {captionEditor}
        <p class="hint" id="caption-count" data-testid="caption-count">
          {countChars(form.caption)} characters
          {liveEditors && !readOnly && <span> · saved automatically as you type</span>}
        </p>
        <FieldError error={err} name="caption" />
      </div>

      <fieldset class="field" disabled={readOnly}>
        <legend>Platforms</legend>
        <div class="platform-checks" data-testid="platform-checks">
          {PLATFORMS.map((p) => (
            <label key={p.id} class={`check chip-${p.id}${form.platforms.includes(p.id) ? ' checked' : ''}`}>
              <input
                type="checkbox"
                checked={form.platforms.includes(p.id)}
                onChange={(e) => togglePlatform(p.id, e.currentTarget.checked)}
                data-testid={`platform-${p.id}`}
              />
              {p.label}
            </label>
          ))}
        </div>
        <FieldError error={err} name="platforms" />
      </fieldset>
    </section>
  );
}
