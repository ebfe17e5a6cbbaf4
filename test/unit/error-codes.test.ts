/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { ERROR_CODES, EXECUTION_ERROR_CODES } from "../../src/engine/errors";
import { RETRY_ON_CODES } from "../../src/engine/plugins";
import { plugins } from "../../src/engine/plugins/registry";

/** The sources that build step and execution errors: the engine and the execution object. */
const SOURCES = import.meta.glob<string>(["../../src/engine/**/*.ts", "../../src/durable/**/*.ts"], { query: "?raw", import: "default", eager: true });

/** Every UPPER_SNAKE code given to a StepError (or subclass, or by one to its super), to `toStepError`, or to an error object literal. */
function emittedCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const patterns = [
    /new (?:StepError|NonRetriableError|RetryableError)\(\s*"([A-Z][A-Z_]*[A-Z])"/g,
    /toStepError\([^,()]+,\s*"([A-Z][A-Z_]*[A-Z])"\)/g,
    /\bcode: "([A-Z][A-Z_]*[A-Z])"/g,
    /\bsuper\(\s*"([A-Z][A-Z_]*[A-Z])"/g, // a StepError subclass with a code of its own (BudgetShortfall)
  ];
  for (const [file, text] of Object.entries(SOURCES)) {
    if (file.endsWith("/validate-definition.ts")) continue; // registration problems, not step errors
    for (const pattern of patterns) {
      for (const m of text.matchAll(pattern)) found.set(m[1]!, [...(found.get(m[1]!) ?? []), file.replace("../../", "")]);
    }
  }
  return found;
}

describe("ERROR_CODES", () => {
  it("lists every code the engine and the execution object emit (and nothing else)", () => {
    const emitted = emittedCodes();
    expect(emitted.size).toBeGreaterThan(10); // the scan found the sources
    const known = new Set<string>([...ERROR_CODES, ...EXECUTION_ERROR_CODES]);
    const unlisted = [...emitted].filter(([code]) => !known.has(code)).map(([code, files]) => `${code} (${files.join(", ")})`);
    expect(unlisted).toEqual([]);
    const neverEmitted = [...known].filter((code) => !emitted.has(code));
    expect(neverEmitted).toEqual([]);
  });

  it("retry_on may name the engine's codes and the ones registered plugins declare", () => {
    expect(RETRY_ON_CODES).toEqual(expect.arrayContaining([...ERROR_CODES]));
    const declared = Object.values(plugins).flatMap((p) => p.errorCodes ?? []);
    expect(new Set(RETRY_ON_CODES)).toEqual(new Set([...ERROR_CODES, ...declared]));
    for (const code of RETRY_ON_CODES) expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });
});
