// The shared-caption editor. A plain textarea for now; the live co-editing
// composer (Yjs + TipTap) will replace this component behind the same props.
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
