// The layout of a post's live document (one Y.Doc per post), shared with the server:
//   meta        Y.Map   — `title` (string)
//   caption     Y.Text  — the shared caption
//   content:<p> Y.Text  — per-platform override (empty = the platform uses the caption)
//   media       Y.Array — plain objects {url, kind, alt_text}
import * as Y from 'yjs';
import type { Media, Platform } from '../api';

export const CAPTION = 'caption';
export const contentField = (p: Platform | string) => `content:${p}`;

export function metaMap(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('meta');
}

export function mediaArray(doc: Y.Doc): Y.Array<Media> {
  return doc.getArray<Media>('media');
}

/** The Y.Text of an anchorable field ("caption" or "content:<platform>"), or null. */
export function fieldText(doc: Y.Doc, field: string): Y.Text | null {
  if (field === CAPTION || field.startsWith('content:')) return doc.getText(field);
  return null;
}

export function getTitle(doc: Y.Doc): string {
  const t = metaMap(doc).get('title');
  return typeof t === 'string' ? t : '';
}

export function setTitle(doc: Y.Doc, title: string): void {
  if (getTitle(doc) !== title) metaMap(doc).set('title', title);
}

/** Replace a Y.Text's content with `next`, touching only the changed middle part. */
export function replaceText(ytext: Y.Text, next: string): void {
  const prev = ytext.toString();
  if (prev === next) return;
  let start = 0;
  const max = Math.min(prev.length, next.length);
  while (start < max && prev.charCodeAt(start) === next.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && prev.charCodeAt(prev.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
  ytext.doc!.transact(() => {
    if (prev.length - start - end > 0) ytext.delete(start, prev.length - start - end);
    if (next.length - start - end > 0) ytext.insert(start, next.slice(start, next.length - end));
  });
}

/** Replace the media list (each entry a plain object). */
export function setMedia(doc: Y.Doc, media: Media[]): void {
  const arr = mediaArray(doc);
  doc.transact(() => {
    const cur = arr.toArray();
    // Rewrite from the first entry that differs.
    let i = 0;
    while (i < cur.length && i < media.length && JSON.stringify(cur[i]) === JSON.stringify(media[i])) i++;
    if (cur.length > i) arr.delete(i, cur.length - i);
    if (media.length > i) arr.insert(i, media.slice(i).map((m) => ({ ...m })));
  });
}
