// The shared-caption editor of a post that does not exist yet (a plain textarea). Once the
// post is created, the page switches to the live document and CollabEditor
// (CodeMirror + Yjs, src/collab/) edits the caption instead.
interface Props {
  id: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  rows?: number;
  testid?: string;
  describedBy?: string;
  invalid?: boolean;
}

export function CaptionEditor({ id, value, onChange, placeholder, rows = 6, testid, describedBy, invalid }: Props) {
  return (
    <textarea
      id={id}
      rows={rows}
      value={value}
      placeholder={placeholder}
      aria-describedby={describedBy}
      aria-invalid={invalid ? 'true' : undefined}
      onInput={(e) => onChange(e.currentTarget.value)}
      data-testid={testid}
    />
  );
}
