// Comment anchors: a range of a Y.Text held as two Yjs relative positions (base64), so the
// range follows the text through concurrent edits.
import * as Y from 'yjs';
import type { CommentAnchor } from '../api';
import { fieldText } from './doc';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Anchor [from, to) of `field`. The start sticks to the first quoted character and the end
 * to the last one (assoc −1), so typing just before or just after the range stays outside it.
 */
export function makeAnchor(doc: Y.Doc, field: string, from: number, to: number): CommentAnchor | null {
  const ytext = fieldText(doc, field);
  if (!ytext || to <= from) return null;
  const start = Y.createRelativePositionFromTypeIndex(ytext, from);
  const end = Y.createRelativePositionFromTypeIndex(ytext, to, -1);
  return {
    field,
    start: toBase64(Y.encodeRelativePosition(start)),
    end: toBase64(Y.encodeRelativePosition(end)),
    quote: ytext.toString().slice(from, to),
  };
}

export interface ResolvedAnchor {
  from: number;
  to: number;
  /** The text the range covers now ('' once it was deleted). */
  text: string;
}

/** Where an anchor is in the document now; null if it cannot be resolved (yet). */
export function resolveAnchor(doc: Y.Doc, anchor: CommentAnchor): ResolvedAnchor | null {
  const ytext = fieldText(doc, anchor.field);
  if (!ytext) return null;
  try {
    const s = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.start)), doc);
    const e = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.end)), doc);
    if (!s || !e || s.type !== ytext || e.type !== ytext) return null;
    const from = s.index;
    const to = Math.max(from, e.index);
    return { from, to, text: ytext.toString().slice(from, to) };
  } catch {
    return null;
  }
}
