import { describe, expect, it } from "vitest";
import { parseExpression, parseTemplate, referencedRoots, referencedSecrets } from "../../src/engine/expressions";
import type { ExpressionReferences } from "../../src/engine/expressions";

function refs(source: string): ExpressionReferences {
  const parsed = parseExpression(source);
  if (!parsed.ok) throw new Error(`test expression does not parse: ${parsed.message}`);
  return referencedRoots(parsed.ast);
}

const stepIds = (source: string): string[] => refs(source).steps.map((r) => r.id);

describe("parseExpression", () => {
  it("returns the AST of a valid expression", () => {
    const parsed = parseExpression("steps.fetch.output");
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.ast.type).toBe("path");
  });

  it("returns jsonata's message, code and position for a syntax error", () => {
    expect(parseExpression("$sum(steps.a.output")).toEqual({
      ok: false,
      message: 'Expected ")" before end of expression',
      position: 19,
      code: "S0203",
    });
    expect(parseExpression('"abc')).toEqual({
      ok: false,
      message: "String literal must be terminated by a matching quote",
      position: 4,
      code: "S0101",
    });
  });

  it("reports an empty expression", () => {
    const parsed = parseExpression("   ");
    expect(parsed).toEqual({ ok: false, message: "Unexpected end of expression", position: 3, code: "S0207" });
  });

  it("keeps errors without a position", () => {
    const parsed = parseExpression("%.a");
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.code).toBe("S0217");
      expect(parsed.position).toBeUndefined();
    }
  });
});

describe("parseTemplate", () => {
  it("treats a string without {{ }} as literal text", () => {
    expect(parseTemplate("https://billing.example/x")).toEqual({
      ok: true,
      segments: [{ kind: "text", text: "https://billing.example/x" }],
      exact: false,
      hasExpressions: false,
    });
    expect(parseTemplate("")).toEqual({ ok: true, segments: [], exact: false, hasExpressions: false });
  });

  it("recognises a string that is exactly one {{ expr }}", () => {
    expect(parseTemplate("{{ steps.check.output }}")).toEqual({
      ok: true,
      segments: [{ kind: "expression", source: " steps.check.output ", offset: 2 }],
      exact: true,
      hasExpressions: true,
    });
  });

  it("does not treat surrounding text (even spaces) as exact", () => {
    const parsed = parseTemplate(" {{ x }}");
    expect(parsed.ok && parsed.exact).toBe(false);
  });

  it("splits text and expressions, with offsets into the string", () => {
    expect(parseTemplate("Bearer {{ secrets.T }} / {{ input.id }}!")).toEqual({
      ok: true,
      segments: [
        { kind: "text", text: "Bearer " },
        { kind: "expression", source: " secrets.T ", offset: 9 },
        { kind: "text", text: " / " },
        { kind: "expression", source: " input.id ", offset: 27 },
        { kind: "text", text: "!" },
      ],
      exact: false,
      hasExpressions: true,
    });
  });

  it("does not end an expression at braces inside object constructors or strings", () => {
    const objectTemplate = parseTemplate('{{ {"a": {"b": 1}} }}');
    expect(objectTemplate).toMatchObject({ ok: true, exact: true, segments: [{ kind: "expression", source: ' {"a": {"b": 1}} ' }] });
    const stringTemplate = parseTemplate("{{ 'a }} b' & \"}}\" }}tail");
    expect(stringTemplate).toMatchObject({
      ok: true,
      segments: [
        { kind: "expression", source: " 'a }} b' & \"}}\" " },
        { kind: "text", text: "tail" },
      ],
    });
    const commentTemplate = parseTemplate("{{ /* }} */ 1 }}");
    expect(commentTemplate).toMatchObject({ ok: true, exact: true, segments: [{ source: " /* }} */ 1 " }] });
  });

  it("reports a {{ that is never closed, at its position", () => {
    expect(parseTemplate("id: {{ input.id")).toEqual({ ok: false, message: "'{{' is never closed by '}}'", position: 4 });
    expect(parseTemplate("{{ a }} {{ {'x': 1} ")).toEqual({ ok: false, message: "'{{' is never closed by '}}'", position: 8 });
  });
});

describe("referencedRoots", () => {
  it("finds steps.<id> in a plain path", () => {
    expect(refs("steps.fetch.output.body")).toEqual({
      steps: [{ id: "fetch", position: 11 }],
      dynamicSteps: false,
      secrets: [],
      readsSecrets: false,
    });
  });

  it("finds steps in function arguments, predicates, object constructors, conditions, lambdas and blocks", () => {
    expect(stepIds("$sum(steps.a.output.lines.amount)")).toEqual(["a"]);
    expect(stepIds("input.items[price > steps.b.output.min]")).toEqual(["b"]);
    expect(stepIds("{ 'x': steps.c.output, 'y': [steps.d.output] }")).toEqual(["c", "d"]);
    expect(stepIds("steps.e.output ? steps.f.output : steps.g.output")).toEqual(["e", "f", "g"]);
    expect(stepIds("$map(input.xs, function($v) { $v + steps.h.output })")).toEqual(["h"]);
    expect(stepIds("($x := steps.i.output; $x.total)")).toEqual(["i"]);
    expect(stepIds("steps.j.output ~> $string()")).toEqual(["j"]);
    expect(stepIds("input.list^(>steps.k.output)")).toEqual(["k"]);
    expect(stepIds("input.rows{ steps.l.output: 1 }")).toEqual(["l"]);
    expect(stepIds("$ ~> | input | { 'x': steps.m.output } |")).toEqual(["m"]);
    expect(stepIds("(steps.n.output)[steps.o.output]")).toEqual(["n", "o"]);
    expect(stepIds("-steps.p.output")).toEqual(["p"]);
    expect(stepIds("input.a ?: steps.q.output")).toEqual(["q"]);
  });

  it("lists each step once, in source order", () => {
    expect(stepIds("steps.b.output + steps.a.output + steps.b.status")).toEqual(["b", "a"]);
  });

  it("reads steps through $$ and $ at the root", () => {
    expect(stepIds("$$.steps.root.output")).toEqual(["root"]);
    expect(stepIds("$.steps.ctx.output")).toEqual(["ctx"]);
    expect(refs("$$.steps.root.output").dynamicSteps).toBe(false);
  });

  it("reads a backtick-quoted name as that name", () => {
    expect(stepIds("steps.`weird`.output")).toEqual(["weird"]);
  });

  it("does not mistake other roots, variables or deeper names for steps", () => {
    expect(refs("input.steps.a + $steps.b + x.steps.c + execution.id")).toEqual({
      steps: [],
      dynamicSteps: false,
      secrets: [],
      readsSecrets: false,
    });
  });

  it("notes reads of steps that name no step", () => {
    for (const source of ["steps", "$keys(steps)", "steps.*", "steps.**.output", "steps[0]", "steps.('a')", "$lookup(steps, 'a')", "$$", "$count($$.*)", "*.output"]) {
      expect({ source, dynamic: refs(source).dynamicSteps }).toEqual({ source, dynamic: true });
    }
    expect(refs("steps.a[0].output").dynamicSteps).toBe(false);
    expect(refs("steps.a.*").dynamicSteps).toBe(false);
  });

  it("finds secrets", () => {
    expect(refs("'Bearer ' & secrets.TOKEN & secrets.OTHER & secrets.TOKEN")).toEqual({
      steps: [],
      dynamicSteps: false,
      secrets: ["TOKEN", "OTHER"],
      readsSecrets: true,
    });
    expect(refs("$string(secrets)")).toMatchObject({ secrets: [], readsSecrets: true });
    expect(refs("$$.secrets.X")).toMatchObject({ secrets: ["X"], readsSecrets: true });
    expect(refs("input.secrets.X").readsSecrets).toBe(false);
  });

  it("ignores regex literals", () => {
    expect(refs("$match(input.s, /steps.a/)")).toMatchObject({ steps: [], dynamicSteps: false });
  });
});

describe("referencedSecrets", () => {
  it("finds every secret a definition names, in templates anywhere and in raw expressions, once each", () => {
    const definition = {
      id: "w",
      description: "mentions secrets in prose, which is no expression",
      steps: [
        { id: "a", type: "http", request: { method: "POST", url: "https://x.test/{{ secrets.PATH_KEY }}", headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" } } },
        { id: "b", type: "http", request: { method: "POST", url: "https://x.test/", body: { nested: ["{{ secrets.API_TOKEN & secrets.OTHER }}"] } } },
        { id: "c", type: "transform", expression: "secrets.IN_RAW" },
        { id: "d", type: "transform", expression: "steps.a.output" },
      ],
    };
    expect(referencedSecrets(definition).sort()).toEqual(["API_TOKEN", "IN_RAW", "OTHER", "PATH_KEY"]);
    expect(referencedSecrets({ id: "none", steps: [{ id: "a", type: "transform", expression: "1" }] })).toEqual([]);
  });
});
