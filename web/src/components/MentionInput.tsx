// A textarea with an @mention picker: typing "@" and a few letters lists matching
// workspace members; picking one inserts "@Name " and remembers the user id.
import { useRef, useState } from 'preact/hooks';

export interface Mentionable {
  id: string;
  name: string;
  email?: string;
}

interface Props {
  value: string;
  onInput: (value: string) => void;
  /** Ids picked so far (the caller keeps those whose "@Name" is still in the text). */
  onMention: (user: Mentionable) => void;
  people: Mentionable[];
  placeholder?: string;
  testid?: string;
  rows?: number;
  id?: string;
  ariaLabel?: string;
  /** Ctrl/⌘+Enter. */
  onSubmit?: () => void;
  autoFocus?: boolean;
  inputRef?: { current: HTMLTextAreaElement | null };
}

const QUERY_RE = /(^|[\s(])@([\p{L}\p{N}._-]{0,30})$/u;

export function MentionInput(props: Props) {
  const own = useRef<HTMLTextAreaElement | null>(null);
  const ref = props.inputRef ?? own;
  const [query, setQuery] = useState<{ q: string; at: number } | null>(null);
  const [sel, setSel] = useState(0);

  const matches = query
    ? props.people
        .filter((p) => {
          const q = query.q.toLowerCase();
          return !q || p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)) || p.name.toLowerCase().startsWith(q) || (p.email ?? '').toLowerCase().startsWith(q);
        })
        .slice(0, 6)
    : [];

  const detect = (el: HTMLTextAreaElement) => {
    const caret = el.selectionStart ?? el.value.length;
    const m = QUERY_RE.exec(el.value.slice(0, caret));
    if (m) {
      setQuery({ q: m[2]!, at: caret - m[2]!.length - 1 });
      setSel(0);
    } else setQuery(null);
  };

  const pick = (p: Mentionable) => {
    const el = ref.current;
    if (!el || !query) return;
    const caret = el.selectionStart ?? el.value.length;
    const before = el.value.slice(0, query.at);
    const after = el.value.slice(caret);
    const insert = `@${p.name} `;
    const next = before + insert + after;
    props.onInput(next);
    props.onMention(p);
    setQuery(null);
    const pos = before.length + insert.length;
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(pos, pos);
    });
  };

  const open = query !== null && matches.length > 0;

  return (
    <div class="mention-input">
      <textarea
        ref={ref}
        id={props.id}
        rows={props.rows ?? 3}
        value={props.value}
        placeholder={props.placeholder}
        aria-label={props.ariaLabel}
        aria-autocomplete="list"
        aria-expanded={open}
        autoFocus={props.autoFocus}
        data-testid={props.testid}
        onInput={(e) => {
          props.onInput(e.currentTarget.value);
          detect(e.currentTarget);
        }}
        onClick={(e) => detect(e.currentTarget)}
        onBlur={() => setTimeout(() => setQuery(null), 150)}
        onKeyDown={(e) => {
          if (open) {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              setSel((s) => (s + 1) % matches.length);
              return;
            }
            if (e.key === 'ArrowUp') {
              e.preventDefault();
              setSel((s) => (s - 1 + matches.length) % matches.length);
              return;
            }
            if (e.key === 'Enter' || e.key === 'Tab') {
              e.preventDefault();
              pick(matches[Math.min(sel, matches.length - 1)]!);
              return;
            }
            if (e.key === 'Escape') {
              e.preventDefault();
              setQuery(null);
              return;
            }
          }
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && props.onSubmit) {
            e.preventDefault();
            props.onSubmit();
          }
        }}
      />
      {open && (
        <ul class="mention-menu" role="listbox" data-testid="mention-menu">
          {matches.map((p, i) => (
            <li
              key={p.id}
              role="option"
              aria-selected={i === sel}
              class={i === sel ? 'active' : ''}
              data-testid="mention-option"
              data-user-id={p.id}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(p);
              }}
            >
              <strong>{p.name}</strong>
              {p.email && <span class="muted small"> {p.email}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The ids of `picked` people whose "@Name" is still in `text`. */
export function mentionedIds(text: string, picked: Mentionable[]): string[] {
  const out = new Set<string>();
  for (const p of picked) if (text.includes(`@${p.name}`)) out.add(p.id);
  return [...out];
}
