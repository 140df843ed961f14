// A CodeMirror 6 editor bound to one Y.Text of the post document (y-codemirror.next):
// remote cursors and names, undo of one's own changes, comment anchors highlighted, and a
// "Comment" button over a selection.
import { Compartment, EditorState, StateEffect, StateField, Transaction, type Extension } from '@codemirror/state';
import { Decoration, EditorView, keymap, placeholder as cmPlaceholder, showTooltip, type DecorationSet, type Tooltip } from '@codemirror/view';
import { defaultKeymap } from '@codemirror/commands';
import { useEffect, useRef } from 'preact/hooks';
import * as Y from 'yjs';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import type { CommentAnchor } from '../api';
import { makeAnchor, resolveAnchor } from './anchors';
import type { CollabConnection } from './connection';
import { fieldText } from './doc';

export interface EditorAnchor {
  id: string;
  anchor: CommentAnchor;
  active?: boolean;
  pending?: boolean;
}

interface Props {
  conn: CollabConnection;
  /** "caption" or "content:<platform>". */
  field: string;
  readOnly: boolean;
  placeholder?: string;
  testid: string;
  labelledBy?: string;
  describedBy?: string;
  invalid?: boolean;
  anchors: EditorAnchor[];
  /** Offer "Comment" on a selection. */
  onComment?: (anchor: CommentAnchor) => void;
  onAnchorClick?: (id: string) => void;
}

interface Mark {
  id: string;
  from: number;
  to: number;
  cls: string;
}

const setMarks = StateEffect.define<Mark[]>();

function buildMarks(marks: Mark[], len: number): DecorationSet {
  const ranges = marks
    .map((m) => ({ ...m, from: Math.max(0, Math.min(m.from, len)), to: Math.max(0, Math.min(m.to, len)) }))
    .filter((m) => m.to > m.from)
    .map((m) => Decoration.mark({ class: m.cls, attributes: { 'data-comment-id': m.id } }).range(m.from, m.to));
  return Decoration.set(ranges, true);
}

/** Comment highlights: mapped through every change, re-resolved from Yjs on request. */
const anchorMarks = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    let next = deco.map(tr.changes);
    for (const e of tr.effects) if (e.is(setMarks)) next = buildMarks(e.value, tr.state.doc.length);
    return next;
  },
  provide: (f) => EditorView.decorations.from(f),
});

function commentTooltip(onComment: (view: EditorView, from: number, to: number) => void): Extension {
  const tips = (state: EditorState): readonly Tooltip[] => {
    const r = state.selection.main;
    if (r.empty) return [];
    return [
      {
        pos: r.from,
        above: true,
        strictSide: false,
        arrow: false,
        create: (view) => {
          const dom = document.createElement('div');
          dom.className = 'cm-comment-tip';
          const btn = document.createElement('button');
          btn.type = 'button';
          btn.className = 'btn btn-sm btn-primary';
          btn.textContent = 'Comment';
          btn.title = 'Comment on the selected text';
          btn.setAttribute('data-testid', 'comment-selection');
          // Keep the editor's selection and focus until the click.
          btn.addEventListener('mousedown', (e) => e.preventDefault());
          btn.addEventListener('click', () => {
            const sel = view.state.selection.main;
            if (!sel.empty) onComment(view, sel.from, sel.to);
          });
          dom.appendChild(btn);
          return { dom };
        },
      },
    ];
  };
  const field = StateField.define<readonly Tooltip[]>({
    create: tips,
    update: (value, tr) => (tr.docChanged || tr.selection ? tips(tr.state) : value),
    provide: (f) => showTooltip.computeN([f], (s) => s.field(f)),
  });
  return field;
}

const theme = EditorView.theme({
  '&': { backgroundColor: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 'var(--radius-sm)' },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '1px' },
  '.cm-scroller': { fontFamily: 'inherit', lineHeight: '1.5', minHeight: '6.5em', maxHeight: '24em' },
  '.cm-content': { padding: '14px 10px 8px', caretColor: 'var(--text)' },
  '.cm-line': { padding: '0' },
  '.cm-placeholder': { color: 'var(--muted)' },
  '.cm-tooltip': { border: 'none', backgroundColor: 'transparent' },
});

export function CollabEditor(props: Props) {
  const host = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const roComp = useRef(new Compartment());
  const phComp = useRef(new Compartment());
  const { conn, field } = props;

  /** Resolve the anchors of this field against the document and push them to the view. */
  const refreshMarks = () => {
    const view = viewRef.current;
    if (!view) return;
    const marks: Mark[] = [];
    for (const a of propsRef.current.anchors) {
      if (a.anchor.field !== field) continue;
      const r = resolveAnchor(conn.doc, a.anchor);
      if (!r) continue;
      marks.push({ id: a.id, from: r.from, to: r.to, cls: `cm-comment-anchor${a.active ? ' is-active' : ''}${a.pending ? ' is-pending' : ''}` });
    }
    view.dispatch({ effects: setMarks.of(marks) });
  };

  useEffect(() => {
    const ytext = fieldText(conn.doc, field);
    if (!host.current || !ytext) return;
    const p = propsRef.current;
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
          insertLimit,
          yCollab(ytext, conn.awareness, { undoManager: new Y.UndoManager(ytext) }),
          EditorView.lineWrapping,
          theme,
          anchorMarks,
          commentTooltip((v, from, to) => {
            const cb = propsRef.current.onComment;
            const anchor = cb ? makeAnchor(conn.doc, field, from, to) : null;
            if (!cb || !anchor) return;
            v.dispatch({ selection: { anchor: to } });
            cb(anchor);
          }),
          roComp.current.of(readOnlyExt(p.readOnly)),
          phComp.current.of(p.placeholder ? cmPlaceholder(p.placeholder) : []),
          EditorView.contentAttributes.of({
            role: 'textbox',
            'aria-multiline': 'true',
            ...(p.labelledBy ? { 'aria-labelledby': p.labelledBy } : {}),
            ...(p.describedBy ? { 'aria-describedby': p.describedBy } : {}),
          }),
          EditorView.domEventHandlers({
            click: (e) => {
              const el = (e.target as HTMLElement | null)?.closest?.('[data-comment-id]');
              const id = el?.getAttribute('data-comment-id');
              if (id && id !== 'pending') propsRef.current.onAnchorClick?.(id);
              return false;
            },
          }),
        ],
      }),
    });
    viewRef.current = view;
    refreshMarks();
    // Remote and local edits move anchors; re-resolve them once the edit is through.
    let queued = false;
    const onText = () => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => {
        queued = false;
        refreshMarks();
      });
    };
    ytext.observe(onText);
    return () => {
      ytext.unobserve(onText);
      viewRef.current = null;
      view.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn, field]);

  useEffect(() => {
    viewRef.current?.dispatch({ effects: roComp.current.reconfigure(readOnlyExt(props.readOnly)) });
  }, [props.readOnly]);

  useEffect(() => {
    viewRef.current?.dispatch({ effects: phComp.current.reconfigure(props.placeholder ? cmPlaceholder(props.placeholder) : []) });
  }, [props.placeholder]);

  const anchorsKey = JSON.stringify(props.anchors.filter((a) => a.anchor.field === field).map((a) => [a.id, a.anchor.start, a.anchor.end, !!a.active, !!a.pending]));
  useEffect(() => {
    refreshMarks();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [anchorsKey]);

  return (
    <div
      ref={host}
      class={`collab-editor${props.readOnly ? ' is-readonly' : ''}${props.invalid ? ' is-invalid' : ''}`}
      data-testid={props.testid}
      data-field={field}
      data-readonly={props.readOnly ? 'true' : 'false'}
    />
  );
}

/** The server refuses (closes the socket on) a single text insertion longer than this. */
const MAX_INSERT_CHARS = 100_000;

/** Drop an edit that inserts more than the server accepts at once (e.g. a huge paste). */
const insertLimit = EditorState.transactionFilter.of((tr) => {
  // Only the user's own input (remote changes, applied by the binding, are never filtered).
  if (!tr.docChanged || !tr.annotation(Transaction.userEvent)) return tr;
  let tooBig = false;
  tr.changes.iterChanges((_fa, _ta, _fb, _tb, inserted) => {
    if (inserted.length > MAX_INSERT_CHARS) tooBig = true;
  });
  return tooBig ? [] : tr;
});

function readOnlyExt(ro: boolean): Extension {
  return [EditorState.readOnly.of(ro), EditorView.contentAttributes.of({ 'aria-readonly': ro ? 'true' : 'false' })];
}
