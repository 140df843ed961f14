// The "Platform versions" card: a tab per selected platform with its live character count
// and problems, and the active platform's panel.
import type { JSX } from 'preact';
import type { ApiError, Platform, PlatformRules, PostInput, Problem, Validation } from '../../api';
import { PLATFORM_BY_ID, effectiveText, platformLength } from '../../platforms';
import { emptyContentForm, type ContentForm, type FormState } from './form';
import { PlatformPanel } from './PlatformPanel';

interface Props {
  form: FormState;
  input: PostInput;
  inputKey: string;
  validation: Validation | null;
  validatedKey: string | null;
  validating: boolean;
  validationError: ApiError | null;
  rules: Partial<Record<Platform, PlatformRules>>;
  active: Platform | null;
  setActive: (pl: Platform) => void;
  updateContent: (pl: Platform, patch: Partial<ContentForm>) => void;
  err: ApiError | null;
  readOnly: boolean;
  /** The live editor of a platform's override text (undefined: the panel's textarea). */
  textEditor: (pl: Platform) => JSX.Element | undefined;
}

export function PlatformVersions({
  form,
  input,
  inputKey,
  validation,
  validatedKey,
  validating,
  validationError,
  rules,
  active,
  setActive,
  updateContent,
  err,
  readOnly,
  textEditor,
}: Props) {
  const problemsFor = (pl: Platform): Problem[] => validation?.[pl] ?? [];
  const totalProblems = form.platforms.reduce((n, pl) => n + problemsFor(pl).length, 0);
  return (
    <section class="card" aria-labelledby="versions-h">
      <div class="section-head">
        <h2 id="versions-h">Platform versions</h2>
        <span class="small muted" data-testid="validation-summary" aria-live="polite">
          {validating
            ? 'Checking…'
            : validationError
              ? `Could not check: ${validationError.message}`
              : totalProblems === 0
                ? '✓ Ready for every platform'
                : `${totalProblems} problem${totalProblems === 1 ? '' : 's'} to fix`}
        </span>
      </div>
      <div class="versions">
        <div class="version-tabs" data-testid="platform-tabs">
          {form.platforms.map((pl) => {
            const info = PLATFORM_BY_ID[pl];
            const problems = problemsFor(pl);
            // Live count: our own estimate while typing, the server's count once
            // validation has caught up with the current input.
            const text = effectiveText(form.caption, input.platform_content[pl]);
            const fresh = validatedKey === inputKey;
            const textProblem = problems.find((pr) => pr.field === 'text' && pr.limit != null && pr.actual != null);
            const n = fresh && textProblem ? textProblem.actual! : platformLength(pl, text);
            const limit =
              (fresh && textProblem ? textProblem.limit : undefined) ??
              (pl === 'telegram' && input.media.length > 0 ? 1024 : undefined) ??
              rules[pl]?.max_length ??
              info.limit;
            const over = n > limit;
            return (
              <div key={pl} class={`version-tab${active === pl ? ' active' : ''}${problems.length ? ' has-problems' : ''}`} data-testid={`tab-item-${pl}`}>
                <button
                  type="button"
                  class="version-tab-btn"
                  aria-pressed={active === pl}
                  aria-controls="version-panel"
                  aria-describedby={`problems-${pl}`}
                  onClick={() => setActive(pl)}
                  data-testid={`tab-${pl}`}
                >
                  <span class="version-name">{info.label}</span>
                  <span class={`count${over ? ' over' : ''}`} data-testid={`count-${pl}`} title="Characters used / limit">
                    {n}/{limit}
                  </span>
                </button>
                <ul class="problems" id={`problems-${pl}`} data-testid={`problems-${pl}`} aria-live="polite">
                  {validation === null ? (
                    <li class="muted">{validating ? 'Checking…' : 'Not checked'}</li>
                  ) : problems.length === 0 ? (
                    <li class="ok">No problems</li>
                  ) : (
                    problems.map((pr, i) => (
                      <li key={i} class="problem" data-code={pr.code}>
                        {pr.message}
                        {pr.limit != null && pr.actual != null && !pr.message.includes(String(pr.actual)) && (
                          <span class="muted">
                            {' '}
                            ({pr.actual}/{pr.limit})
                          </span>
                        )}
                      </li>
                    ))
                  )}
                </ul>
              </div>
            );
          })}
        </div>

        {active && (
          <PlatformPanel
            key={active}
            platform={active}
            caption={form.caption}
            content={form.content[active] ?? emptyContentForm()}
            onChange={(patch) => updateContent(active, patch)}
            error={err}
            readOnly={readOnly}
            textEditor={textEditor(active)}
          />
        )}
      </div>
    </section>
  );
}
