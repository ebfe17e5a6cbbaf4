/** A control's call: busy while it runs, its problem shown when it fails, the page told when it worked. */
import { useState } from "preact/hooks";

export function useAction(onDone: () => unknown) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(call: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await call();
      await onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}

/** The value of a form field, by its name. */
export function field(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | null;
  return el?.value ?? "";
}

/** JSON typed into a text area: empty is `fallback`; anything unparsable is an error that names the field. */
export function parseJson(text: string, what: string, fallback: unknown): unknown {
  if (!text.trim()) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} is not valid JSON.`);
  }
}
