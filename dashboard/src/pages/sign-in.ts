/**
 * Sign-in: an API key pasted into a password field. The form never submits natively (its key would
 * end up in a URL); the key is checked with the service, then kept in sessionStorage for this tab.
 */
import { useState } from "preact/hooks";
import { html } from "../html";
import { ProblemNote } from "../parts/problem";
import { signIn, type Session } from "../session";

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="sign-in" id="main">
    <h1>Stepline</h1>
    <p>Sign in with an API key. It stays in this tab only, and is forgotten when the tab closes.</p>
    <form onSubmit=${submit} method="post" action="#">
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck=${false} required
        value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${busy || !key.trim()}>${busy ? "Checking…" : "Sign in"}</button>
    </form>
    <${ProblemNote} error=${error} />
    <p class="muted">No key? <code>npm start</code> prints the local admin key. The API reference is at <a href="/docs">/docs</a>.</p>
  </main>`;
}
