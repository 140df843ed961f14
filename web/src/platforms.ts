import type { Platform, PlatformContent } from './api';

export interface PlatformField {
  key: string;
  label: string;
  placeholder?: string;
  /** Allowed values: rendered as a select. */
  options?: string[];
}

export interface PlatformInfo {
  id: Platform;
  label: string;
  /** Text limit, used for the live counter (the server's `rules` / problems win). */
  limit: number;
  /** Platform-specific custom fields offered in the form. */
  fields: PlatformField[];
}

export const PLATFORMS: PlatformInfo[] = [
  { id: 'facebook', label: 'Facebook', limit: 63206, fields: [] },
  { id: 'instagram', label: 'Instagram', limit: 2200, fields: [] },
  { id: 'x', label: 'X', limit: 280, fields: [] },
  { id: 'linkedin', label: 'LinkedIn', limit: 3000, fields: [] },
  {
    id: 'tiktok',
    label: 'TikTok',
    limit: 2200,
    fields: [
      {
        key: 'privacy_level',
        label: 'Privacy level',
        options: ['PUBLIC_TO_EVERYONE', 'MUTUAL_FOLLOW_FRIENDS', 'FOLLOWER_OF_CREATOR', 'SELF_ONLY'],
      },
    ],
  },
  {
    id: 'youtube',
    label: 'YouTube',
    limit: 5000,
    fields: [
      { key: 'title', label: 'Video title', placeholder: 'Up to 100 characters' },
      { key: 'privacy_status', label: 'Privacy', options: ['public', 'unlisted', 'private'] },
    ],
  },
  {
    id: 'pinterest',
    label: 'Pinterest',
    limit: 500,
    fields: [
      { key: 'board_id', label: 'Board ID' },
      { key: 'title', label: 'Pin title', placeholder: 'Up to 100 characters' },
      { key: 'link', label: 'Destination link', placeholder: 'https://…' },
    ],
  },
  {
    id: 'google_business',
    label: 'Google Business',
    limit: 1500,
    fields: [
      {
        key: 'call_to_action',
        label: 'Call to action',
        options: ['BOOK', 'ORDER', 'SHOP', 'LEARN_MORE', 'SIGN_UP', 'CALL'],
      },
      { key: 'call_to_action_url', label: 'Call to action URL', placeholder: 'https://…' },
    ],
  },
  { id: 'telegram', label: 'Telegram', limit: 4096, fields: [] },
  { id: 'threads', label: 'Threads', limit: 500, fields: [] },
  { id: 'mastodon', label: 'Mastodon', limit: 500, fields: [] },
  { id: 'bluesky', label: 'Bluesky', limit: 300, fields: [] },
];

export const PLATFORM_BY_ID = Object.fromEntries(PLATFORMS.map((p) => [p.id, p])) as Record<
  Platform,
  PlatformInfo
>;

export function platformLabel(p: string): string {
  return PLATFORM_BY_ID[p as Platform]?.label ?? p;
}

export function emptyContent(): PlatformContent {
  return { text: null, hashtags: [], mentions: [], fields: {} };
}

const HASHTAG_RE = /(?:^|[^\p{L}\p{N}_&/#＃@])[#＃]([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)/gu;

/**
 * The text that will be published on a platform: the override (if any) or the shared
 * caption, then a blank line and the explicit hashtags not already in the text.
 */
export function effectiveText(caption: string, content: PlatformContent | undefined): string {
  const text = content?.text != null && content.text !== '' ? content.text : caption;
  const seen = new Set([...text.matchAll(HASHTAG_RE)].map((m) => m[1]!.toLowerCase()));
  const extra: string[] = [];
  for (const raw of content?.hashtags ?? []) {
    const tag = raw.trim().replace(/^[#＃]+/, '').replace(/\s+/g, '');
    if (tag && !seen.has(tag.toLowerCase())) {
      seen.add(tag.toLowerCase());
      extra.push(`#${tag}`);
    }
  }
  if (!extra.length) return text;
  const body = text.trimEnd();
  return body ? `${body}\n\n${extra.join(' ')}` : extra.join(' ');
}

type Segmenter = { segment(s: string): Iterable<{ segment: string }> };
const segmenter: Segmenter | null =
  typeof Intl !== 'undefined' && 'Segmenter' in Intl
    ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
    : null;

function graphemes(s: string): string[] {
  if (!s) return [];
  if (segmenter) return Array.from(segmenter.segment(s), (x) => x.segment);
  return Array.from(s);
}

/** User-perceived characters (grapheme clusters). */
export function countChars(s: string): number {
  return graphemes(s).length;
}

function isEmoji(g: string): boolean {
  for (const ch of g) {
    const c = ch.codePointAt(0)!;
    if (
      (c >= 0x1f000 && c <= 0x1faff) ||
      (c >= 0x2300 && c <= 0x23ff) ||
      (c >= 0x2600 && c <= 0x27bf) ||
      (c >= 0x2b00 && c <= 0x2bff) ||
      c === 0xfe0f ||
      c === 0x20e3
    )
      return true;
  }
  return false;
}

function xWeight(ch: string): number {
  const c = ch.codePointAt(0)!;
  return c <= 4351 || (c >= 8192 && c <= 8205) || (c >= 8208 && c <= 8223) || (c >= 8242 && c <= 8247) ? 1 : 2;
}

const URL_RE = /https?:\/\/[^\s<>"]+/giu;

/** Count `text` with each URL counted as 23 and the rest by `plain`. */
function withUrls(text: string, plain: (s: string) => number): number {
  let total = 0;
  let pos = 0;
  for (const m of text.matchAll(URL_RE)) {
    total += plain(text.slice(pos, m.index)) + 23;
    pos = m.index! + m[0].length;
  }
  return total + plain(text.slice(pos));
}

const utf8 = new TextEncoder();

/**
 * Length the way each platform counts it (mirrors the server's validator, roughly):
 * X weighted with URLs as 23; Bluesky graphemes; Mastodon graphemes with URLs as 23;
 * TikTok/Telegram UTF-16 units; YouTube UTF-8 bytes; Threads emoji as UTF-8 bytes;
 * the rest code points. The server's own count is shown once validation returns.
 */
export function platformLength(platform: Platform, text: string): number {
  switch (platform) {
    case 'x':
      return withUrls(text, (s) =>
        graphemes(s).reduce((n, g) => n + (isEmoji(g) ? 2 : Array.from(g).reduce((k, c) => k + xWeight(c), 0)), 0),
      );
    case 'bluesky':
      return countChars(text);
    case 'mastodon':
      return withUrls(text, countChars);
    case 'tiktok':
    case 'telegram':
      return text.length;
    case 'youtube':
      return utf8.encode(text).length;
    case 'threads':
      return graphemes(text).reduce((n, g) => n + (isEmoji(g) ? utf8.encode(g).length : Array.from(g).length), 0);
    default:
      return Array.from(text).length;
  }
}
