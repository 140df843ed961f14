// Live platform checks: the post's input is sent to `/validate` ~300 ms after it stops
// changing (fed from the document's current text when live).
import { useEffect, useRef, useState } from 'preact/hooks';
import { toApiError, validatePost, type ApiError, type Platform, type PlatformRules, type PostInput, type Validation } from '../../api';

export interface LiveValidation {
  validation: Validation | null;
  setValidation: (v: Validation | null) => void;
  /** The input that `validation` was computed for (to know when server counts are current). */
  validatedKey: string | null;
  setValidatedKey: (k: string | null) => void;
  rules: Partial<Record<Platform, PlatformRules>>;
  validating: boolean;
  validationError: ApiError | null;
}

/** `enabled`: the input is ready to check (loaded, and for a live post, the document synced). */
export function useValidation(workspaceId: string, input: PostInput, inputKey: string, enabled: boolean, deps: unknown[]): LiveValidation {
  const [validation, setValidation] = useState<Validation | null>(null);
  const [validatedKey, setValidatedKey] = useState<string | null>(null);
  const [rules, setRules] = useState<Partial<Record<Platform, PlatformRules>>>({});
  const [validating, setValidating] = useState(false);
  const [validationError, setValidationError] = useState<ApiError | null>(null);
  const validateSeq = useRef(0);

  useEffect(() => {
    if (!enabled) return;
    if (input.platforms.length === 0) {
      validateSeq.current++;
      setValidation({});
      setValidating(false);
      return;
    }
    const my = ++validateSeq.current;
    setValidating(true);
    const t = setTimeout(() => {
      validatePost(workspaceId, input)
        .then((res) => {
          if (my !== validateSeq.current) return;
          setValidation(res.validation ?? {});
          setValidatedKey(inputKey);
          if (res.rules) setRules((r) => ({ ...r, ...res.rules }));
          setValidationError(null);
        })
        .catch((e) => {
          if (my !== validateSeq.current) return;
          // The input itself was refused (e.g. a malformed media URL): platform checks are unknown.
          setValidationError(toApiError(e));
          setValidation(null);
          setValidatedKey(null);
        })
        .finally(() => {
          if (my === validateSeq.current) setValidating(false);
        });
    }, 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [inputKey, workspaceId, ...deps]);

  return { validation, setValidation, validatedKey, setValidatedKey, rules, validating, validationError };
}
