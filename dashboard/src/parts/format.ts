/** How values read on every page: statuses as labelled badges, times, durations and money. */
import { html } from "../html";

export { isEnded } from "../../../client/src/index";

/** A status as a badge; the word is always shown, so colour is never the only signal. */
export function StatusBadge({ status }: { status: string }) {
  return html`<span class=${`badge badge-${status}`}>${status.replace("_", " ")}</span>`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 60 ? `${minutes} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function between(start: string | null | undefined, end: string | null | undefined): string {
  return start && end ? duration(Date.parse(end) - Date.parse(start)) : "—";
}

export function usd(amount: number | null | undefined): string {
  if (amount === null || amount === undefined) return "—";
  return amount === 0 ? "$0" : amount < 0.01 ? `$${amount.toPrecision(2)}` : `$${amount.toFixed(2)}`;
}

/** A JSON value as indented text, in a scrollable block with a label for screen readers. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  if (value === undefined) return html`<p class="muted">None.</p>`;
  return html`<pre class="json" tabindex="0" aria-label=${label}>${JSON.stringify(value, null, 2)}</pre>`;
}
