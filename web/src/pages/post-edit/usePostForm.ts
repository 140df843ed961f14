// The post being edited: loading it, the form state, and the REST-only settings (what was
// last saved, and taking someone else's changes unless ours are unsaved).
import { useEffect, useRef, useState } from 'preact/hooks';
import { getPost, toApiError, type ApiError, type Platform, type Post, type Validation } from '../../api';
import { EMPTY_FORM, fromPost, platformFieldsKey, settingsKey, toInput, type FormState } from './form';

export interface PostFormState {
  post: Post | null;
  setPost: (p: Post | null) => void;
  form: FormState;
  setForm: (f: FormState | ((cur: FormState) => FormState)) => void;
  loading: boolean;
  loadError: ApiError | null;
  /** settingsKey() of what the server has. */
  savedSettingsKey: string | null;
  setSavedSettingsKey: (k: string | null) => void;
  /** Someone else changed the settings while ours were unsaved. */
  remoteSettings: boolean;
  setRemoteSettings: (v: boolean) => void;
  /** platformFieldsKey() of what the server has (loaded, saved or refreshed). */
  savedPlatformFields: { current: string | null };
  /** Refetch the post's settings (debounced), e.g. after someone else saved them. */
  refreshSettings: () => void;
}

interface Loaded {
  /** Called with the loaded post's validation and the key of its input. */
  onLoaded: (validation: Validation, inputKey: string) => void;
}

export function usePostForm(postId: string | undefined, { onLoaded }: Loaded): PostFormState {
  const [post, setPost] = useState<Post | null>(null);
  const [form, setForm] = useState<FormState>(EMPTY_FORM);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(!!postId);
  const [savedSettingsKey, setSavedSettingsKey] = useState<string | null>(null);
  const [remoteSettings, setRemoteSettings] = useState(false);
  const savedPlatformFields = useRef<string | null>(null);
  const loadedRef = useRef(onLoaded);
  loadedRef.current = onLoaded;

  // Load an existing post.
  useEffect(() => {
    if (!postId) {
      setPost(null);
      setForm(EMPTY_FORM);
      setLoading(false);
      return;
    }
    let cancelled = false;
    setLoading(true);
    getPost(postId)
      .then((p) => {
        if (cancelled) return;
        setPost(p);
        setForm(fromPost(p));
        loadedRef.current(p.validation ?? {}, JSON.stringify(toInput(fromPost(p), p.status)));
        setSavedSettingsKey(settingsKey(toInput(fromPost(p), p.status)));
        savedPlatformFields.current = platformFieldsKey(toInput(fromPost(p), p.status));
        setLoadError(null);
      })
      .catch((e) => !cancelled && setLoadError(toApiError(e)))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [postId]);

  // Someone else changed the post's settings: take them unless we have unsaved edits.
  const settingsRefresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const savedSettingsKeyRef = useRef(savedSettingsKey);
  savedSettingsKeyRef.current = savedSettingsKey;
  const statusRef = useRef<Post['status'] | null>(null);
  statusRef.current = post?.status ?? null;
  const refreshSettings = () => {
    if (!postId) return;
    if (settingsRefresh.current) clearTimeout(settingsRefresh.current);
    settingsRefresh.current = setTimeout(() => {
      getPost(postId)
        .then((p) => {
          // Compare under the status the saved key was made with: a status change alone (an
          // approval decision, say) is neither a local edit nor someone else's settings.
          const was = statusRef.current ?? p.status;
          setPost(p);
          setForm((f) => {
            const cur = settingsKey(toInput(f, was));
            if (savedSettingsKeyRef.current !== null && cur !== savedSettingsKeyRef.current) {
              // Local unsaved edits: keep them, say so.
              if (settingsKey(toInput(fromPost(p), was)) !== savedSettingsKeyRef.current) setRemoteSettings(true);
              return f;
            }
            const next = { ...fromPost(p), title: f.title, caption: f.caption, media: f.media };
            for (const pl of Object.keys(next.content) as Platform[]) {
              next.content[pl] = { ...next.content[pl]!, text: f.content[pl]?.text ?? next.content[pl]!.text };
            }
            setSavedSettingsKey(settingsKey(toInput(next, p.status)));
            savedPlatformFields.current = platformFieldsKey(toInput(next, p.status));
            return next;
          });
        })
        .catch(() => {});
    }, 400);
  };

  return {
    post,
    setPost,
    form,
    setForm,
    loading,
    loadError,
    savedSettingsKey,
    setSavedSettingsKey,
    remoteSettings,
    setRemoteSettings,
    savedPlatformFields,
    refreshSettings,
  };
}
