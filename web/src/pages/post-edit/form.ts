// The post form's model: the editable state of a post, conversion to and from the API's
// shape, and how it relates to the live document (which holds title, caption, override
// texts and media; the rest are REST fields saved with "Save changes").
import type * as Y from 'yjs';
import type { MediaKind, Platform, Post, PostInput } from '../../api';
import { CAPTION, contentField, getTitle, mediaArray } from '../../collab/doc';
import { splitList } from '../../components/ui';
import { PLATFORMS } from '../../platforms';

// ---------------------------------------------------------------- form model

export interface ContentForm {
  text: string;
  hashtags: string;
  mentions: string;
  fields: Record<string, string>;
}

export interface MediaForm {
  url: string;
  kind: MediaKind;
  alt_text: string;
}

export interface FormState {
  title: string;
  caption: string;
  platforms: Platform[];
  content: Partial<Record<Platform, ContentForm>>;
  media: MediaForm[];
  tags: string;
  campaign: string;
  labels: string;
  scheduled_at: string; // datetime-local value
  client_visible: boolean;
  archived: boolean;
}

export const EMPTY_FORM: FormState = {
  title: '',
  caption: '',
  platforms: [],
  content: {},
  media: [],
  tags: '',
  campaign: '',
  labels: '',
  scheduled_at: '',
  client_visible: false,
  archived: false,
};

export function emptyContentForm(): ContentForm {
  return { text: '', hashtags: '', mentions: '', fields: {} };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** RFC 3339 → value for <input type="datetime-local"> (local time). */
function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Hashtags / mentions: split on commas or whitespace, strip a leading # / @. */
function splitTokens(s: string, prefix: '#' | '@'): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (x.startsWith(prefix) ? x.slice(1) : x))
    .filter(Boolean);
}

export function fromPost(p: Post): FormState {
  const content: FormState['content'] = {};
  for (const [pl, c] of Object.entries(p.platform_content ?? {})) {
    if (!c) continue;
    content[pl as Platform] = {
      text: c.text ?? '',
      hashtags: (c.hashtags ?? []).map((h) => `#${h.replace(/^#/, '')}`).join(' '),
      mentions: (c.mentions ?? []).map((m) => `@${m.replace(/^@/, '')}`).join(' '),
      fields: { ...(c.fields ?? {}) },
    };
  }
  return {
    title: p.title ?? '',
    caption: p.caption ?? '',
    platforms: [...(p.platforms ?? [])],
    content,
    media: (p.media ?? []).map((m) => ({ url: m.url, kind: m.kind, alt_text: m.alt_text ?? '' })),
    tags: (p.tags ?? []).join(', '),
    campaign: p.campaign ?? '',
    labels: (p.labels ?? []).join(', '),
    scheduled_at: toLocalInput(p.scheduled_at),
    client_visible: !!p.client_visible,
    archived: p.status === 'archived',
  };
}

export function toInput(f: FormState, status: Post['status'] | null): PostInput {
  const platform_content: PostInput['platform_content'] = {};
  for (const pl of f.platforms) {
    const c = f.content[pl] ?? emptyContentForm();
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.fields)) if (k.trim() && v.trim()) fields[k.trim()] = v.trim();
    platform_content[pl] = {
      text: c.text.trim() ? c.text : null,
      hashtags: splitTokens(c.hashtags, '#'),
      mentions: splitTokens(c.mentions, '@'),
      fields,
    };
  }
  const input: PostInput = {
    title: f.title.trim(),
    caption: f.caption,
    platforms: [...f.platforms],
    platform_content,
    media: f.media
      .filter((m) => m.url.trim())
      .map((m) => ({ url: m.url.trim(), kind: m.kind, alt_text: m.alt_text.trim() || null })),
    tags: splitList(f.tags),
    campaign: f.campaign.trim() || null,
    labels: splitList(f.labels),
    scheduled_at: fromLocalInput(f.scheduled_at),
    client_visible: f.client_visible,
  };
  // Only draft <-> archived can be set from the form.
  if (status === 'draft' || status === 'archived') input.status = f.archived ? 'archived' : 'draft';
  return input;
}

// ---------------------------------------------------------------- live document ↔ form

/** The form with the document-held fields (title, caption, override texts, media) from `doc`. */
export function mirrorDoc(f: FormState, doc: Y.Doc): FormState {
  const content = { ...f.content };
  for (const p of PLATFORMS) {
    const text = doc.getText(contentField(p.id)).toString();
    const cur = content[p.id];
    if (cur) {
      if (cur.text !== text) content[p.id] = { ...cur, text };
    } else if (text) content[p.id] = { ...emptyContentForm(), text };
  }
  const media: MediaForm[] = mediaArray(doc)
    .toArray()
    .map((m) => ({
      url: typeof m?.url === 'string' ? m.url : '',
      kind: m?.kind === 'video' || m?.kind === 'gif' ? m.kind : 'image',
      alt_text: typeof m?.alt_text === 'string' ? m.alt_text : '',
    }));
  return { ...f, title: getTitle(doc), caption: doc.getText(CAPTION).toString(), content, media };
}

/** What PUT sends for a live post: everything but the fields the document holds. */
export function restOnly(input: PostInput): Partial<PostInput> {
  const { title: _t, caption: _c, media: _m, ...rest } = input;
  return rest;
}

/** The per-platform REST fields (hashtags, mentions, custom fields), without the texts. */
export function platformFieldsKey(input: PostInput): string {
  const pc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.platform_content ?? {})) pc[k] = { ...v, text: undefined };
  return JSON.stringify(pc);
}

/** REST fields only, without the override texts: to tell whether settings have unsaved edits. */
export function settingsKey(input: PostInput): string {
  const rest = restOnly(input);
  const pc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest.platform_content ?? {})) pc[k] = { ...v, text: undefined };
  return JSON.stringify({ ...rest, platform_content: pc });
}
