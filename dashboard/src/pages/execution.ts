/**
 * One execution, live: its events arrive over the WebSocket (the client's `watch`, which resumes
 * after a dropped socket from the last `seq`), and each event reloads the execution, its steps and
 * its costs, so the timeline and the step table grow while it runs, without a reload.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ExecutionEvent } from "../../../client/src/index";
import { html } from "../html";
import { useLoad } from "../load";
import { Controls } from "../parts/controls";
import { JsonBlock, StatusBadge, between, usd, when } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { StepTable } from "../parts/step-table";
import { Timeline } from "../parts/timeline";
import { href } from "../route";
import { must, type Session } from "../session";

/** Reloads after an event wait this long for the next one, so a burst of events costs one reload. */
const SETTLE_MS = 150;
/** While the execution has not ended, it is also read this often: a page left open stays right even if a push is missed. */
const FALLBACK_MS = 5_000;

export function ExecutionPage({ session, id }: { session: Session; id: string }) {
  const api = session.client.api;
  const path = { params: { path: { id } } };
  const [ended, setEnded] = useState(false);
  const every = ended ? undefined : FALLBACK_MS;
  const execution = useLoad(() => must(api.GET("/v1/executions/{id}", path)), [id], every);
  const steps = useLoad(() => must(api.GET("/v1/executions/{id}/steps", path)), [id], every);
  const costs = useLoad(() => must(api.GET("/v1/executions/{id}/costs", path)), [id], every);
  const reloadAll = () => Promise.all([execution.reload(), steps.reload(), costs.reload()]);
  const [events, setEvents] = useState<ExecutionEvent[]>([]);
  const [watchError, setWatchError] = useState<unknown>(null);
  const [epoch, setEpoch] = useState(0);
  const lastSeq = useRef(0);

  useEffect(() => {
    const stop = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void reloadAll(), SETTLE_MS);
    };
    void (async () => {
      try {
        for await (const event of session.client.watch(id, { after: lastSeq.current, signal: stop.signal })) {
          if (stop.signal.aborted || event.seq <= lastSeq.current) continue; // a watch being replaced
          lastSeq.current = event.seq;
          setEvents((list) => [...list, event]);
          refresh();
        }
        if (!stop.signal.aborted) setEnded(true);
      } catch (err) {
        if (!stop.signal.aborted) setWatchError(err);
      }
    })();
    return () => {
      stop.abort();
      clearTimeout(timer);
    };
  }, [id, epoch]);

  const ex = execution.data;
  if (!ex) return html`<h1>Execution <code>${id}</code></h1><${ProblemNote} error=${execution.error} />`;
  // A retry or rerun starts new events after the terminal one the watch ended on: watch again.
  const changed = () =>
    reloadAll().then(() => {
      setEnded(false);
      setEpoch((n) => n + 1);
    });

  return html`<h1>Execution <code>${ex.id}</code></h1>
    <p class="summary">
      <${StatusBadge} status=${ex.status} />
      <span>Workflow <a href=${href("workflows", ex.workflow_id)}>${ex.workflow_id}</a> v${ex.workflow_version}</span>
      ${ex.parent ? html`<span>Child of <a href=${href("executions", ex.parent.execution_id)}><code>${ex.parent.execution_id}</code></a></span>` : null}
    </p>
    <dl class="facts">
      <div><dt>Created</dt><dd>${when(ex.created_at)}</dd></div>
      <div><dt>Duration</dt><dd>${between(ex.started_at, ex.ended_at ?? undefined)}</dd></div>
      <div><dt>Attempt</dt><dd>${ex.attempt}</dd></div>
      <div><dt>Cost</dt><dd data-testid="cost">${usd(costs.data?.total_usd ?? ex.cost?.total_usd)}</dd></div>
      ${ex.budget ? html`<div><dt>Budget</dt><dd>${usd(ex.budget.max_usd)}</dd></div>` : null}
      <div><dt>Plan hash</dt><dd><code class="hash">${ex.plan_hash}</code></dd></div>
      ${ex.waiting_for ? html`<div><dt>Waiting for</dt><dd>${ex.waiting_for.kind}${ex.waiting_for.step_id ? html` (step <code>${ex.waiting_for.step_id}</code>)` : null}</dd></div>` : null}
    </dl>
    ${ex.error ? html`<div class="problem" role="status"><strong>${ex.error.code}</strong> ${ex.error.message}${ex.error.step_id ? html` (step <code>${ex.error.step_id}</code>)` : null}</div>` : null}
    <${Controls} session=${session} execution=${ex} steps=${steps.data?.items ?? []} onChanged=${changed} />
    <div class="columns">
      <section aria-labelledby="timeline-h">
        <h2 id="timeline-h">Timeline</h2>
        <${ProblemNote} error=${watchError} />
        <${Timeline} events=${events} />
      </section>
      <section aria-labelledby="steps-h">
        <h2 id="steps-h">Steps</h2>
        <${StepTable} steps=${steps.data?.items ?? []} usage=${costs.data?.items ?? []} />
      </section>
    </div>
    <div class="columns">
      <section aria-labelledby="input-h"><h2 id="input-h">Input</h2><${JsonBlock} value=${ex.input} label="Input" /></section>
      <section aria-labelledby="output-h"><h2 id="output-h">Output</h2><${JsonBlock} value=${ex.output} label="Output" /></section>
    </div>`;
}
