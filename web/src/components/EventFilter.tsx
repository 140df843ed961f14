import { useState } from 'preact/hooks';
import type { CatalogueEntry } from '../api';

/** Event-type filter: "all events", whole groups (`post.*`) or single types. */
export function EventFilter({
  catalogue,
  value,
  onChange,
  idPrefix,
}: {
  catalogue: CatalogueEntry[];
  value: string[];
  onChange: (v: string[]) => void;
  idPrefix: string;
}) {
  const types = catalogue.filter((e) => e.audience !== 'account' && !e.type.startsWith('webhook.'));
  const groups = [...new Set(types.map((e) => e.type.split('.')[0]!))];
  const [choosing, setChoosing] = useState(value.length > 0);
  const all = value.length === 0 && !choosing;
  const has = (t: string) => value.includes(t);
  const toggle = (t: string) => onChange(has(t) ? value.filter((x) => x !== t) : [...value, t]);
  return (
    <fieldset class="event-filter" data-testid={`${idPrefix}-events`}>
      <legend>Events</legend>
      <label class="check">
        <input
          type="checkbox"
          checked={all}
          onChange={() => {
            setChoosing(all);
            onChange([]);
          }}
          data-testid={`${idPrefix}-all-events`}
        />{' '}
        All events
      </label>
      {!all && value.length === 0 && <p class="hint">Choose events below (none chosen: every event is sent).</p>}
      {!all && groups.map((g) => (
        <div key={g} class="event-group">
          <label class="check">
            <input type="checkbox" checked={has(`${g}.*`)} onChange={() => toggle(`${g}.*`)} /> <strong>{g}.*</strong>
          </label>
          {!has(`${g}.*`) && (
            <div class="event-types">
              {types
                .filter((e) => e.type.startsWith(`${g}.`))
                .map((e) => (
                  <label key={e.type} class="check small" title={e.description}>
                    <input type="checkbox" checked={has(e.type)} onChange={() => toggle(e.type)} /> {e.type}
                  </label>
                ))}
            </div>
          )}
        </div>
      ))}
    </fieldset>
  );
}

/** "Name: value" lines ↔ a header map. */
export function headersToText(h: Record<string, string>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}

export function textToHeaders(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of s.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}
