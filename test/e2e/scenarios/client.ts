/**
 * The typed client (client/) against the real wrangler dev: `startAndWait` runs an example to its
 * end, the generated types reach the API, and `watch` resumes from the last `seq` after a dropped
 * socket — every event once, in order, through the terminal one.
 */
import { describe, expect, it } from "vitest";
import { createStepline, SteplineError, type ExecutionEvent } from "../../../client/src/index";
import { adminKey, baseUrl } from "../helpers/client";

describe("typed client", () => {
  const stepline = createStepline({ baseUrl, apiKey: adminKey });

  it("startAndWait runs invoice-review to its end; a refused start is a SteplineError with its problem", async () => {
    const done = await stepline.startAndWait({ workflow_id: "invoice-review", input: { invoice_id: "INV-1001" } }, { timeoutSeconds: 30 });
    expect(done).toMatchObject({ status: "completed", output: { invoice_id: "INV-1001", paid: true } });
    const refused = await stepline.startAndWait({ workflow_id: "no-such-workflow" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SteplineError);
    expect(refused).toMatchObject({ status: 404, problem: { code: "WORKFLOW_NOT_FOUND" } });
  });

  it("watch resumes from the last seq after the socket drops: every event once, in order, to the terminal one", async () => {
    let opened = 0;
    let dropped = 0;
    // The first socket is dropped (closed 4000, as a network would) right after its first event.
    class DroppingSocket extends WebSocket {
      constructor(url: string | URL) {
        super(url);
        const first = ++opened === 1;
        if (!first) return;
        let events = 0;
        this.addEventListener("message", (m) => {
          if (JSON.parse(String(m.data)).type !== "snapshot" && ++events === 1) {
            dropped += 1;
            this.close(4000, "dropped by the test");
          }
        });
      }
    }
    const watcher = createStepline({ baseUrl, apiKey: adminKey, WebSocket: DroppingSocket });
    const res = await watcher.api.POST("/v1/executions", { body: { workflow_id: "invoice-review", input: { invoice_id: "INV-2002" } } });
    expect(res.response.status).toBe(202);
    const id = res.data!.id;
    const seen: ExecutionEvent[] = [];
    for await (const event of watcher.watch(id)) {
      seen.push(event);
      if (event.type === "answers.requested") {
        const answered = await watcher.api.POST("/v1/executions/{id}/steps/{step_id}/answers", { params: { path: { id, step_id: "confirm" } }, body: { answers: { ok: true } } });
        expect(answered.response.status).toBe(200);
      }
    }
    expect(dropped).toBe(1);
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.at(-1)!.type).toBe("execution.completed");
  });
});
