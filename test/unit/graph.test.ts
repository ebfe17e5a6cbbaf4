import { describe, expect, it } from "vitest";
import { dependentsOf, findCycle, findCycles, topologicalIndexes, topologicalOrder, upstreamOf } from "../../src/engine/graph";

const s = (id: string, ...needs: string[]) => ({ id, needs });

describe("findCycle", () => {
  it("returns null for an acyclic graph", () => {
    expect(findCycle([s("a"), s("b", "a"), s("c", "b")])).toBeNull();
    expect(findCycle([])).toBeNull();
  });

  it("does not see a cycle in a diamond", () => {
    // a → (b, c) → d: two paths to the same step are not a cycle
    const diamond = [s("a"), s("b", "a"), s("c", "a"), s("d", "b", "c")];
    expect(findCycle(diamond)).toBeNull();
    expect(findCycles(diamond)).toEqual([]);
  });

  it("finds a cycle of length 1 (a step needing itself)", () => {
    expect(findCycle([s("a", "a")])).toEqual(["a"]);
  });

  it("finds a cycle of length 2", () => {
    expect(findCycle([s("a", "b"), s("b", "a")])).toEqual(["a", "b"]);
  });

  it("finds a cycle of length 3, in needs order, starting at the first declared step", () => {
    // c needs b, b needs a, a needs c → a → c → b → a
    expect(findCycle([s("a", "c"), s("b", "a"), s("c", "b")])).toEqual(["a", "c", "b"]);
  });

  it("finds a longer cycle behind acyclic steps", () => {
    const steps = [s("start"), s("p", "start", "s"), s("q", "p"), s("r", "q"), s("s", "r"), s("end", "s")];
    expect(findCycle(steps)).toEqual(["p", "s", "r", "q"]);
  });

  it("returns the shortest cycle through the first step of a tangle", () => {
    // a → b → c → a and a → c → a: the second is shorter
    expect(findCycle([s("a", "b", "c"), s("b", "c"), s("c", "a")])).toEqual(["a", "c"]);
  });

  it("reports one cycle per independent component, in declaration order", () => {
    const steps = [s("x", "y"), s("y", "x"), s("ok"), s("m", "o"), s("n", "m"), s("o", "n"), s("self", "self")];
    expect(findCycles(steps)).toEqual([["x", "y"], ["m", "o", "n"], ["self"]]);
  });

  it("ignores needs naming unknown steps", () => {
    expect(findCycle([s("a", "ghost"), s("b", "a")])).toBeNull();
  });

  it("handles a long chain without recursion limits", () => {
    const chain = Array.from({ length: 5000 }, (_, i) => (i === 0 ? s("n0", "n4999") : s(`n${i}`, `n${i - 1}`)));
    expect(findCycle(chain)?.length).toBe(5000);
  });
});

describe("upstreamOf", () => {
  it("collects transitive needs", () => {
    const up = upstreamOf([s("a"), s("b", "a"), s("c", "a"), s("d", "b", "c"), s("e")]);
    expect([...(up.get("a") ?? [])]).toEqual([]);
    expect([...(up.get("b") ?? [])].sort()).toEqual(["a"]);
    expect([...(up.get("d") ?? [])].sort()).toEqual(["a", "b", "c"]);
    expect([...(up.get("e") ?? [])]).toEqual([]);
    expect(up.size).toBe(5);
  });

  it("makes a step on a cycle its own upstream", () => {
    const up = upstreamOf([s("a", "b"), s("b", "a"), s("c", "a")]);
    expect([...(up.get("a") ?? [])].sort()).toEqual(["a", "b"]);
    expect([...(up.get("c") ?? [])].sort()).toEqual(["a", "b"]);
  });

  it("merges the needs of an id declared twice", () => {
    const up = upstreamOf([s("a"), s("b"), s("c", "a"), s("c", "b")]);
    expect([...(up.get("c") ?? [])].sort()).toEqual(["a", "b"]);
  });
});

describe("topologicalOrder", () => {
  it("puts every step after its needs, keeping declaration order among ready steps", () => {
    expect(topologicalOrder([s("d", "b", "c"), s("c", "a"), s("b", "a"), s("a"), s("e")])).toEqual(["a", "c", "b", "d", "e"]);
  });

  it("returns null on a cycle", () => {
    expect(topologicalOrder([s("a"), s("b", "c"), s("c", "b")])).toBeNull();
    expect(topologicalOrder([s("a", "a")])).toBeNull();
  });
});

describe("topologicalIndexes", () => {
  /** The rule spelled out: repeatedly take the first declared step whose needs are all placed. */
  function firstReadyFirst(needs: number[][]): number[] {
    const order: number[] = [];
    const placed = new Set<number>();
    for (;;) {
      const next = needs.findIndex((own, i) => !placed.has(i) && own.every((j) => placed.has(j)));
      if (next < 0) return order;
      placed.add(next);
      order.push(next);
    }
  }

  it("places the first declared ready step next, on random graphs with and without cycles", () => {
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * below);
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + random(30);
      // Acyclic rounds: a step needs only steps of a lower rank, whatever their declaration order.
      const rank = Array.from({ length: n }, () => random(n));
      const cyclic = round % 4 === 0;
      const needs = Array.from({ length: n }, (_, i) => {
        const own = new Set<number>();
        for (let k = random(4); k > 0; k--) {
          const j = random(n);
          if (j !== i && (cyclic || rank[j]! < rank[i]!)) own.add(j);
        }
        return [...own];
      });
      const dependents: number[][] = needs.map(() => []);
      needs.forEach((own, i) => own.forEach((j) => dependents[j]!.push(i)));
      expect(topologicalIndexes(needs, dependents)).toEqual(firstReadyFirst(needs));
    }
  });
});

describe("dependentsOf", () => {
  it("lists direct dependents in declaration order", () => {
    const deps = dependentsOf([s("a"), s("c", "a"), s("b", "a"), s("d", "b", "c")]);
    expect(deps.get("a")).toEqual(["c", "b"]);
    expect(deps.get("b")).toEqual(["d"]);
    expect(deps.get("d")).toEqual([]);
  });
});
