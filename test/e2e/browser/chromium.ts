/**
 * Real Chromium (Debian's /usr/bin/chromium, driven by playwright-core, which downloads no browser)
 * for the dashboard tests. Each page records what a user could not see but must be true: console
 * errors and uncaught exceptions, and every URL it requested (no API key may appear in one).
 * Screenshots go to .test-output/dashboard/ for a person to look at.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const SCREENSHOTS = join(new URL("../../..", import.meta.url).pathname, ".test-output", "dashboard");
const EXECUTABLE = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launch(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: EXECUTABLE,
    // Root in CI has no sandbox; the background-networking flags keep Chromium from calling out
    // to Google's hosts, which this machine's closed network refuses.
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
  /** Every URL the page requested (documents, scripts, fetches, WebSockets). */
  urls: string[];
}

export async function openPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  const urls: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => urls.push(r.url()));
  page.on("websocket", (ws) => urls.push(ws.url()));
  return { page, errors, urls };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
