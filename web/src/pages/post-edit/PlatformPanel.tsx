// One platform's version of a post: its text override (a live editor for an existing
// post), hashtags, mentions, the platform's own fields and any custom ones.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { ApiError, Platform } from '../../api';
import { FieldError, humanize } from '../../components/ui';
import { PLATFORM_BY_ID } from '../../platforms';
import type { ContentForm } from './form';

interface PanelProps {
  platform: Platform;
  caption: string;
  content: ContentForm;
  onChange: (patch: Partial<ContentForm>) => void;
  error: ApiError | null;
  readOnly?: boolean;
  /** The live editor of this platform's override text (replaces the textarea). */
  textEditor?: JSX.Element;
}

export function PlatformPanel({ platform, caption, content, onChange, error, readOnly = false, textEditor }: PanelProps) {
  const info = PLATFORM_BY_ID[platform];
  const [newKey, setNewKey] = useState('');
  const known = new Set(info.fields.map((f) => f.key));
  const extraKeys = Object.keys(content.fields).filter((k) => !known.has(k));
  const base = `platform_content.${platform}`;

  const setField = (k: string, v: string) => onChange({ fields: { ...content.fields, [k]: v } });

  return (
    <div class="version-panel" id="version-panel" data-testid={`panel-${platform}`}>
      <h3>{info.label} version</h3>
      <fieldset class="plain" disabled={readOnly}>
      <div class="field">
        <label for={`pc-text-${platform}`} id={`pc-text-label-${platform}`}>
          Text override
        </label>
        {textEditor ?? (
        <textarea
          id={`pc-text-${platform}`}
          rows={4}
          value={content.text}
          placeholder={caption ? `Uses the shared caption: “${caption.slice(0, 80)}${caption.length > 80 ? '…' : ''}”` : 'Uses the shared caption'}
          onInput={(e) => onChange({ text: e.currentTarget.value })}
          data-testid={`override-${platform}`}
        />
        )}
        <p class="hint">Leave empty to publish the shared caption.</p>
        <FieldError error={error} name={`${base}.text`} />
      </div>
      <div class="field-row">
        <div class="field">
          <label for={`pc-hashtags-${platform}`}>Hashtags</label>
          <input
            id={`pc-hashtags-${platform}`}
            value={content.hashtags}
            placeholder="#launch #summer"
            onInput={(e) => onChange({ hashtags: e.currentTarget.value })}
            data-testid={`hashtags-${platform}`}
          />
          <FieldError error={error} name={`${base}.hashtags`} />
        </div>
        <div class="field">
          <label for={`pc-mentions-${platform}`}>Mentions</label>
          <input
            id={`pc-mentions-${platform}`}
            value={content.mentions}
            placeholder="@partner"
            onInput={(e) => onChange({ mentions: e.currentTarget.value })}
            data-testid={`mentions-${platform}`}
          />
          <FieldError error={error} name={`${base}.mentions`} />
        </div>
      </div>

      {info.fields.map((f) => (
        <div class="field" key={f.key}>
          <label for={`pc-field-${platform}-${f.key}`}>{f.label}</label>
          {f.options ? (
            <select
              id={`pc-field-${platform}-${f.key}`}
              value={content.fields[f.key] ?? ''}
              onChange={(e) => setField(f.key, (e.currentTarget as HTMLSelectElement).value)}
              data-testid={`field-${platform}-${f.key}`}
            >
              <option value="">—</option>
              {f.options.map((o) => (
                <option key={o} value={o}>
                  {humanize(o.toLowerCase())}
                </option>
              ))}
            </select>
          ) : (
            <input
              id={`pc-field-${platform}-${f.key}`}
              value={content.fields[f.key] ?? ''}
              placeholder={f.placeholder}
              onInput={(e) => setField(f.key, e.currentTarget.value)}
              data-testid={`field-${platform}-${f.key}`}
            />
          )}
          <FieldError error={error} name={`${base}.fields.${f.key}`} />
        </div>
      ))}

      {extraKeys.map((k) => (
        <div class="field" key={k}>
          <label for={`pc-field-${platform}-${k}`}>
            Custom field <code>{k}</code>
          </label>
          <div class="inline">
            <input
              id={`pc-field-${platform}-${k}`}
              value={content.fields[k] ?? ''}
              onInput={(e) => setField(k, e.currentTarget.value)}
              data-testid={`field-${platform}-${k}`}
            />
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              aria-label={`Remove field ${k}`}
              onClick={() => {
                const fields = { ...content.fields };
                delete fields[k];
                onChange({ fields });
              }}
            >
              Remove
            </button>
          </div>
          <FieldError error={error} name={`${base}.fields.${k}`} />
        </div>
      ))}

      <div class="field">
        <label for={`pc-newkey-${platform}`}>Add a custom field</label>
        <div class="inline">
          <input
            id={`pc-newkey-${platform}`}
            value={newKey}
            placeholder="field name"
            onInput={(e) => setNewKey(e.currentTarget.value)}
            data-testid={`new-field-${platform}`}
          />
          <button
            type="button"
            class="btn btn-sm"
            disabled={!newKey.trim() || newKey.trim() in content.fields}
            onClick={() => {
              setField(newKey.trim(), '');
              setNewKey('');
            }}
          >
            Add
          </button>
        </div>
      </div>
      </fieldset>
    </div>
  );
}
