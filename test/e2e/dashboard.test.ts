/**
 * The dashboard at / in real Chromium against the real `wrangler dev`: what a person signing in
 * with a key sees and can do, live, and what must hold behind it (no console error, a strict CSP,
 * the key in no URL, no control a role may not use, usable at phone width).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminKey, baseUrl, call, uniqueId, type Execution } from "./helpers/client";
import { launch, openPage, screenshot, type WatchedPage } from "./browser/chromium";

let browser: Browser;
const pages: WatchedPage[] = [];
const keys: Record<"approver" | "viewer" | "operator", string> = { approver: "", viewer: "", operator: "" };

beforeAll(async () => {
  browser = await launch();
  for (const role of ["approver", "viewer", "operator"] as const) {
    const created = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: `dashboard-${role}`, role } });
    expect(created.status, created.text).toBe(201);
    keys[role] = created.body.key;
  }
});
afterAll(async () => {
  await browser?.close();
});
// A failed case leaves a picture of each page it opened, to see what the person would have seen.
let opened = 0;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    for (const [i, { page }] of pages.slice(opened).entries()) await screenshot(page, `failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, "-")}-${i}`).catch(() => undefined);
  }
  opened = pages.length;
});

async function signedIn(key: string, viewport?: { width: number; height: number }): Promise<Page> {
  const watched = await openPage(browser, viewport);
  pages.push(watched);
  const { page } = watched;
  const res = await page.goto(`${baseUrl}/`);
  expect(res?.status()).toBe(200);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Pages" }).waitFor();
  return page;
}

async function start(workflowId: string, input: unknown): Promise<Execution> {
  const res = await call<Execution>("POST", "/v1/executions", { body: { workflow_id: workflowId, input } });
  expect(res.status, res.text).toBe(202);
  return res.body;
}

async function until(id: string, ok: (e: Execution) => boolean): Promise<Execution> {
  for (let i = 0; i < 150; i++) {
    const res = await call<Execution>("GET", `/v1/executions/${id}`);
    if (ok(res.body)) return res.body;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`execution ${id} never reached the expected state`);
}

describe("the dashboard in Chromium", () => {
  it("serves / with a strict Content-Security-Policy and no third-party origin", async () => {
    const res = await fetch(`${baseUrl}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("signs in with a key kept in sessionStorage only, and the list shows a new execution without a reload", async () => {
    const page = await signedIn(adminKey);
    await page.getByRole("heading", { name: "Executions" }).waitFor();
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem("stepline.apiKey"), local: JSON.stringify(localStorage) }));
    expect(stored.session).toBe(adminKey);
    expect(stored.local).not.toContain(adminKey);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));

    const ex = await start("invoice-review", { invoice_id: uniqueId("INV") });
    await page.locator(`tr[data-id="${ex.id}"]`).waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1); // no reload
    await screenshot(page, "executions");
  });

  it("approves a level-2 execution from its page, with its plan hash, and the timeline gains steps live", async () => {
    // worker 0.9.0 is a release the demo registry knows; no other scenario deploys it (one deploy per service at a time).
    const ex = await start("deploy-service", { service: "worker", version: "0.9.0", environment: "staging" });
    expect(ex.status).toBe("pending_approval");
    const page = await signedIn(keys.approver);
    await page.goto(`${baseUrl}/#/executions/${ex.id}`);
    await expect.poll(() => page.getByTestId("plan-hash").textContent()).toBe(ex.plan_hash);
    await page.locator('li[data-type="approval.requested"]').waitFor();
    await screenshot(page, "execution-pending-approval");
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const before = await page.locator('li[data-type="step.started"]').count();
    expect(before).toBe(0);

    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator('li[data-type="approval.granted"]').waitFor({ timeout: 15_000 });
    // The steps run on the same page: the timeline and the step table grow as events arrive.
    await page.locator('li[data-step="fetch_manifest"][data-status="completed"]').waitFor({ timeout: 15_000 });
    // The release manager's sign-off (an approval step) is the next control shown.
    await page.getByRole("heading", { name: /Approval of step release_gate/ }).waitFor({ timeout: 15_000 });
    await screenshot(page, "execution-release-gate");
    await page.getByLabel("Comment (optional)").fill("ship it");
    await page.getByRole("button", { name: "Approve" }).click();
    // The settle wait (5 s) lets the page be seen mid-run.
    await page.locator('li[data-step="settle"]:not([data-status="pending"])').waitFor({ timeout: 20_000 });
    await screenshot(page, "execution-running");
    await page.locator('li[data-type="execution.completed"]').waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    expect(await page.locator('li[data-type="step.started"]').count()).toBeGreaterThan(3);
    const done = await call<Execution & { approvals: { status: string; by: string }[] }>("GET", `/v1/executions/${ex.id}`);
    expect(done.body.status).toBe("completed");
    expect(done.body.approvals.map((a) => a.status)).toEqual(["approved", "approved"]);
    expect(done.body.approvals[1]).toMatchObject({ comment: "ship it" });
    await screenshot(page, "execution-completed");
  });

  it("answers a question through the form built from it; the inbox shows the item, then clears it", async () => {
    const ex = await start("invoice-review", { invoice_id: "INV-2002" });
    await until(ex.id, (e) => e.status === "waiting");
    const page = await signedIn(keys.approver);
    await page.goto(`${baseUrl}/#/inbox`);
    const item = page.locator(`[data-testid="inbox"] li[data-execution="${ex.id}"]`);
    await item.waitFor({ timeout: 15_000 });
    expect(await item.getAttribute("data-kind")).toBe("answers");
    await screenshot(page, "inbox");

    await item.getByRole("link").click();
    const form = page.getByTestId("answer-form");
    await form.waitFor();
    await screenshot(page, "execution-question");
    // The form comes from the step's questions: a yes/no for the boolean, a text field for the note.
    await form.getByLabel(/totals 1750.*Pay it\?/).selectOption("true");
    await form.getByLabel("Anything the payment team should know?").fill("paid from the browser");
    await form.getByRole("button", { name: "Send answers" }).click();
    await page.locator('li[data-type="execution.completed"]').waitFor({ timeout: 30_000 });
    const done = await until(ex.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ invoice_id: "INV-2002", total: 1750, paid: true });
    const step = await call<{ items: { id: string; output?: unknown }[] }>("GET", `/v1/executions/${ex.id}/steps`);
    expect(step.body.items.find((s) => s.id === "confirm")?.output).toEqual({ ok: true, note: "paid from the browser" });

    await page.goto(`${baseUrl}/#/inbox`);
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    await expect.poll(() => item.count(), { timeout: 15_000 }).toBe(0);
    await page.getByLabel("Status").selectOption("done");
    await item.waitFor({ timeout: 15_000 });
    await expect.poll(() => item.textContent()).toContain("answered");
  });

  it("a viewer key sees no control it may not use; an operator sees cancel but not approve", async () => {
    const ex = await start("deploy-service", { service: "viewer-check", version: "2.0.0", environment: "staging" });
    const viewer = await signedIn(keys.viewer);
    await viewer.goto(`${baseUrl}/#/executions/${ex.id}`);
    await viewer.locator('li[data-type="approval.requested"]').waitFor();
    expect(await viewer.locator("section.controls").count()).toBe(0);
    for (const name of ["Approve", "Reject", "Cancel", "Pause", "Retry", "Send answers"]) {
      expect(await viewer.getByRole("button", { name }).count(), name).toBe(0);
    }
    await screenshot(viewer, "execution-viewer");

    const operator = await signedIn(keys.operator);
    await operator.goto(`${baseUrl}/#/executions/${ex.id}`);
    await operator.getByRole("button", { name: "Cancel" }).waitFor();
    expect(await operator.getByRole("button", { name: "Approve" }).count()).toBe(0);
    await operator.getByRole("button", { name: "Cancel" }).click();
    await operator.locator('li[data-type="execution.cancelled"]').waitFor({ timeout: 15_000 });
    expect((await call<Execution>("GET", `/v1/executions/${ex.id}`)).body.status).toBe("cancelled");
  });

  it("shows workflows with charts, and costs, and fits a phone's width", async () => {
    const page = await signedIn(adminKey);
    await page.goto(`${baseUrl}/#/workflows`);
    await page.getByRole("link", { name: "Invoice review" }).click();
    await page.getByRole("heading", { name: "Definition (v1)" }).waitFor();
    await page.locator(".chart canvas").first().waitFor({ timeout: 15_000 });
    await screenshot(page, "workflow");
    await page.goto(`${baseUrl}/#/costs`);
    await page.getByTestId("total-usd").waitFor();
    await screenshot(page, "costs");

    const phone = await signedIn(adminKey, { width: 390, height: 844 });
    const ex = (await call<{ items: { id: string }[] }>("GET", "/v1/executions?limit=1")).body.items[0]!;
    for (const [name, path] of [["executions", "#/executions"], ["execution", `#/executions/${ex.id}`], ["inbox", "#/inbox"]] as const) {
      await phone.goto(`${baseUrl}/${path}`);
      await phone.locator("main h1").waitFor();
      await phone.waitForTimeout(500);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${name} is wider than the phone`).toBeLessThanOrEqual(0);
      await screenshot(phone, `phone-${name}`);
    }
  });

  it("every page: no console error, and no API key in any URL it requested", () => {
    expect(pages.length).toBeGreaterThan(0);
    for (const { errors, urls } of pages) {
      expect(errors).toEqual([]);
      for (const key of [adminKey, keys.approver, keys.viewer, keys.operator]) {
        expect(urls.filter((u) => u.includes(key))).toEqual([]);
      }
    }
  });
});
