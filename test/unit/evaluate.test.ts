import { describe, expect, it } from "vitest";
import { StepError } from "../../src/engine/errors";
import { evaluateExpression, interpolate, maskSecrets, maskText, renderTemplate } from "../../src/engine/evaluate";
import type { ExpressionScope, SecretResolver } from "../../src/engine/steps/types";

const scope: ExpressionScope = {
  input: { invoice_id: "inv-1", amount: 1200, tags: ["a", "b"], nested: { ok: true } },
  steps: {
    fetch: { status: "completed", output: { body: { lines: [{ amount: 10 }, { amount: 32.5 }] } } },
    skipped: { status: "skipped", output: null },
  },
  execution: { id: "ex-1", workflow_id: "wf", workflow_version: 3, attempt: 1, started_at: "2026-01-01T00:00:00.000Z" },
};

function resolver(values: Record<string, string>): SecretResolver & { asked: string[] } {
  const used = new Set<string>();
  const asked: string[] = [];
  return {
    asked,
    used,
    get(name) {
      asked.push(name);
      const value = values[name];
      if (value !== undefined) used.add(value);
      return value;
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<StepError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StepError) return error;
    throw error;
  }
  throw new Error("expected a StepError");
}

describe("evaluateExpression", () => {
  it("evaluates over input, steps and execution", async () => {
    expect(await evaluateExpression("$sum(steps.fetch.output.body.lines.amount)", scope)).toBe(42.5);
    expect(await evaluateExpression("input.amount > 1000", scope)).toBe(true);
    expect(await evaluateExpression("execution.workflow_version", scope)).toBe(3);
    expect(await evaluateExpression("{ 'id': input.invoice_id, 'n': $count(input.tags) }", scope)).toEqual({ id: "inv-1", n: 2 });
    expect(await evaluateExpression("steps.skipped.status", scope)).toBe("skipped");
  });

  it("returns plain arrays (not jsonata sequences) and undefined for no match", async () => {
    const lines = await evaluateExpression("steps.fetch.output.body.lines.amount", scope);
    expect(lines).toEqual([10, 32.5]);
    expect(Object.keys(lines as object)).toEqual(["0", "1"]);
    expect(await evaluateExpression("input.missing", scope)).toBeUndefined();
    expect(await evaluateExpression("function($x) { $x }", scope)).toBeUndefined();
  });

  it("accepts extra root names (map items)", async () => {
    expect(await evaluateExpression("item.name & '#' & $string(index)", { ...scope, item: { name: "x" }, index: 2 })).toBe("x#2");
  });

  it("reports a syntax error as EXPRESSION_ERROR with its position", async () => {
    const error = await failure(evaluateExpression("$sum(steps.a.output", scope, { location: "steps[1].expression" }));
    expect(error.code).toBe("EXPRESSION_ERROR");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("steps[1].expression");
    expect(error.message).toContain("position 19");
    expect(error.details).toMatchObject({ position: 19, jsonata_code: "S0203" });
  });

  it("reports an evaluation error as EXPRESSION_ERROR", async () => {
    const error = await failure(evaluateExpression("input.invoice_id + 1", scope));
    expect(error.code).toBe("EXPRESSION_ERROR");
    expect(error.message).toMatch(/T2001|numeric/);
  });

  it("stops an endless tail-recursive loop with a step budget", async () => {
    const error = await failure(evaluateExpression("($f := function($n) { $f($n + 1) }; $f(0))", scope));
    expect(error.code).toBe("EXPRESSION_ERROR");
    expect(error.message).toContain("exceeded");
  });

  it("stops deep non-tail recursion", async () => {
    const error = await failure(evaluateExpression("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))", scope));
    expect(error.code).toBe("EXPRESSION_ERROR");
  });

  it("stops a runaway loop inside $eval too", async () => {
    const error = await failure(evaluateExpression("$eval('($f := function($n) { $f($n + 1) }; $f(0))')", scope));
    expect(error.code).toBe("EXPRESSION_ERROR");
  });

  it("evaluates concurrent uses of one cached expression independently", async () => {
    const source = "input.n * 2";
    const results = await Promise.all([1, 2, 3, 4].map((n) => evaluateExpression(source, { ...scope, input: { n } })));
    expect(results).toEqual([2, 4, 6, 8]);
  });

  it("resolves only the secrets the expression names, and only with a resolver", async () => {
    const secrets = resolver({ TOKEN: "s3cr3t", OTHER: "other" });
    expect(await evaluateExpression("'Bearer ' & secrets.TOKEN", scope, { secrets })).toBe("Bearer s3cr3t");
    expect(secrets.asked).toEqual(["TOKEN"]);
    expect([...secrets.used]).toEqual(["s3cr3t"]);
    // a dynamic read sees only what is named statically
    expect(await evaluateExpression("$lookup(secrets, 'OTHER')", scope, { secrets })).toBeUndefined();
    expect(secrets.asked).toEqual(["TOKEN"]);

    const without = await failure(evaluateExpression("secrets.TOKEN", scope));
    expect(without.code).toBe("EXPRESSION_ERROR");
    const unknown = await failure(evaluateExpression("secrets.NOPE", scope, { secrets }));
    expect(unknown.code).toBe("SECRET_NOT_FOUND");
    expect(unknown.details).toEqual({ secret: "NOPE" });
  });
});

describe("renderTemplate", () => {
  it("yields the value itself for a string that is exactly one {{ expr }}", async () => {
    expect(await renderTemplate("{{ input.amount }}", scope)).toBe(1200);
    expect(await renderTemplate("{{ input.nested }}", scope)).toEqual({ ok: true });
    expect(await renderTemplate("  {{ input.tags }}  ".trim(), scope)).toEqual(["a", "b"]);
    expect(await renderTemplate("{{ input.missing }}", scope)).toBeUndefined();
    expect(await renderTemplate('{{ {"a": {"b": 1}} }}', scope)).toEqual({ a: { b: 1 } });
  });

  it("interpolates other strings", async () => {
    expect(await renderTemplate("Invoice {{ input.invoice_id }} for {{ input.amount }}", scope)).toBe("Invoice inv-1 for 1200");
    expect(await renderTemplate("tags={{ input.tags }} n={{ input.nested }}", scope)).toBe('tags=["a","b"] n={"ok":true}');
    expect(await renderTemplate("[{{ input.missing }}][{{ null }}]", scope)).toBe("[][]");
    expect(await renderTemplate("{{ 0.1 + 0.2 }} ", scope)).toBe("0.3 ");
    expect(await renderTemplate("no template here", scope)).toBe("no template here");
  });

  it("walks objects and arrays, leaving keys and non-strings alone", async () => {
    const rendered = await renderTemplate(
      { "{{ key }}": "{{ input.invoice_id }}", list: ["{{ input.amount }}", 1, true, null, { deep: "x{{ input.amount }}" }] },
      scope,
    );
    expect(rendered).toEqual({ "{{ key }}": "inv-1", list: [1200, 1, true, null, { deep: "x1200" }] });
  });

  it("names the location of a failing template", async () => {
    const unclosed = await failure(renderTemplate({ headers: { a: "x {{ input.amount" } }, scope));
    expect(unclosed.code).toBe("TEMPLATE_ERROR");
    expect(unclosed.message).toContain("headers.a");
    const bad = await failure(renderTemplate(["ok", "{{ $nope( }}"], scope));
    expect(bad.code).toBe("EXPRESSION_ERROR");
    expect(bad.message).toContain("[1]");
  });

  it("reads secrets only with a resolver", async () => {
    const secrets = resolver({ TOKEN: "tok-123" });
    expect(await renderTemplate({ authorization: "Bearer {{ secrets.TOKEN }}" }, scope, secrets)).toEqual({ authorization: "Bearer tok-123" });
    expect((await failure(renderTemplate("Bearer {{ secrets.TOKEN }}", scope))).code).toBe("EXPRESSION_ERROR");
    expect((await failure(renderTemplate("{{ secrets.MISSING }}", scope, secrets))).code).toBe("SECRET_NOT_FOUND");
  });
});

describe("interpolate", () => {
  it("writes values as they appear inside strings", () => {
    expect(interpolate(null)).toBe("");
    expect(interpolate(undefined)).toBe("");
    expect(interpolate("s")).toBe("s");
    expect(interpolate(1.5)).toBe("1.5");
    expect(interpolate(false)).toBe("false");
    expect(interpolate({ a: [1, 0.1 + 0.2] })).toBe('{"a":[1,0.3]}');
  });
});

describe("maskSecrets / maskText", () => {
  it("replaces every occurrence, in strings and keys, deeply, without touching the input", () => {
    const value = { "tok-123": ["Bearer tok-123", { x: "a tok-123 b tok-123" }], n: 123, ok: true, none: null };
    const masked = maskSecrets(value, ["tok-123"]);
    expect(masked).toEqual({ "***": ["Bearer ***", { x: "a *** b ***" }], n: 123, ok: true, none: null });
    expect(value["tok-123"][0]).toBe("Bearer tok-123");
  });

  it("masks URL-encoded and JSON-escaped forms, longest secret first, and ignores empty values", () => {
    expect(maskText("?q=a%20b%2Fc&r=a b/c", ["a b/c"])).toBe("?q=***&r=***");
    expect(maskText('{"v":"say \\"hi\\""}', ['say "hi"'])).toBe('{"v":"***"}');
    expect(maskText("abcdef", ["abc", "abcdef"])).toBe("***");
    expect(maskText("abc", [""])).toBe("abc");
    expect(maskSecrets("plain", new Set<string>())).toBe("plain");
  });
});
