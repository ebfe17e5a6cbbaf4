/** The frame of every signed-in page: the site's name, the pages, who is signed in, and sign-out. */
import type { ComponentChildren } from "preact";
import { html } from "../html";
import { href } from "../route";
import type { Session } from "../session";

const PAGES = [
  { id: "executions", label: "Executions" },
  { id: "inbox", label: "Inbox" },
  { id: "workflows", label: "Workflows" },
  { id: "costs", label: "Costs" },
];

export function Layout(props: { session: Session; page: string; onSignOut: () => void; children: ComponentChildren }) {
  const { key } = props.session;
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => (e.preventDefault(), document.getElementById("main")?.focus())}>Skip to content</a>
    <header class="top">
      <a class="brand" href=${href("executions")}>Stepline</a>
      <nav aria-label="Pages">
        <ul>
          ${PAGES.map(
            (p) => html`<li><a href=${href(p.id)} aria-current=${props.page === p.id ? "page" : undefined}>${p.label}</a></li>`,
          )}
        </ul>
      </nav>
      <div class="who">
        <span title=${`Key ${key.id} of tenant ${key.tenant}`}><span class="visually-hidden">Signed in as </span>${key.name ?? key.id}</span>
        <span class="role" data-role=${key.role}>${key.role}</span>
        <button type="button" class="link" onClick=${props.onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${props.children}</main>
  `;
}
