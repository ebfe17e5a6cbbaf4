/**
 * The dashboard (SPEC §10): one page app on the static assets at /, talking to the API with the
 * typed client under the signed-in key. Which page shows is the URL's fragment (see route.ts).
 */
import "uplot/dist/uPlot.min.css";
import "./dashboard.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "./html";
import { Layout } from "./parts/layout";
import { CostsPage } from "./pages/costs";
import { ExecutionPage } from "./pages/execution";
import { ExecutionsPage } from "./pages/executions";
import { InboxPage } from "./pages/inbox";
import { SignIn } from "./pages/sign-in";
import { WorkflowPage } from "./pages/workflow";
import { WorkflowsPage } from "./pages/workflows";
import { useRoute } from "./route";
import { resume, signOut, type Session } from "./session";

function Page({ session }: { session: Session }) {
  const { parts, query } = useRoute();
  const [page = "executions", id] = parts;
  useEffect(() => {
    document.title = `${id ?? page[0]!.toUpperCase() + page.slice(1)} · Stepline`;
  }, [page, id]);
  switch (page) {
    case "executions":
      return id ? html`<${ExecutionPage} key=${id} session=${session} id=${id} />` : html`<${ExecutionsPage} session=${session} query=${query} />`;
    case "inbox":
      return html`<${InboxPage} session=${session} query=${query} />`;
    case "workflows":
      return id ? html`<${WorkflowPage} key=${id} session=${session} id=${id} />` : html`<${WorkflowsPage} session=${session} />`;
    case "costs":
      return html`<${CostsPage} session=${session} />`;
    default:
      return html`<h1>Not found</h1><p>No page <code>${page}</code>.</p>`;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const { parts } = useRoute();
  useEffect(() => {
    void resume().then(setSession);
  }, []);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null) return html`<${SignIn} onSignedIn=${setSession} />`;
  const leave = () => {
    signOut();
    setSession(null);
  };
  return html`<${Layout} session=${session} page=${parts[0] ?? "executions"} onSignOut=${leave}><${Page} session=${session} /><//>`;
}

render(html`<${App} />`, document.getElementById("app")!);
