/**
 * Pure helpers over the dependency graph of a workflow: each step `needs` other steps by id.
 *
 * Shared by the definition validator (cycles, "is X upstream of Y") and the scheduler (run order,
 * what becomes ready or skipped when a step ends). Everything here is deterministic: ties are
 * broken by the order steps are declared in, so messages and schedules do not depend on hashing.
 *
 * Input tolerance (the validator calls these on definitions it is about to reject):
 * - `needs` entries naming no declared step are ignored (the validator reports them);
 * - a step id declared twice is one node whose needs are the union of both declarations.
 * Edge direction: `a needs b` is an edge a → b; b is *upstream* of a, a is *downstream* of b.
 */

/** The only shape the graph helpers read. */
export interface GraphNode {
  readonly id: string;
  readonly needs?: readonly string[] | undefined;
}

/** Declared ids in declaration order (first declaration wins) and each id's known needs, in order. */
interface Graph {
  readonly ids: readonly string[];
  readonly edges: ReadonlyMap<string, readonly string[]>;
}

function buildGraph(steps: readonly GraphNode[]): Graph {
  const ids: string[] = [];
  const declared = new Set<string>();
  for (const step of steps) {
    if (!declared.has(step.id)) {
      declared.add(step.id);
      ids.push(step.id);
    }
  }
  const edges = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const step of steps) {
    const out = edges.get(step.id);
    if (!out) continue;
    for (const need of step.needs ?? []) {
      if (declared.has(need) && !out.includes(need)) out.push(need);
    }
  }
  return { ids, edges };
}

/**
 * Direct and transitive needs of every step: `upstreamOf(steps).get("c")` holds every step that
 * must complete (or be skipped) before `c` can start. A step on a cycle is its own upstream.
 */
export function upstreamOf(steps: readonly GraphNode[]): Map<string, Set<string>> {
  const { ids, edges } = buildGraph(steps);
  const result = new Map<string, Set<string>>();
  // One search per step: O(n·(n+e)) is nothing for MAX_STEPS = 250 and needs no cycle handling.
  for (const id of ids) {
    const seen = new Set<string>();
    const stack = [...(edges.get(id) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(edges.get(next) ?? []));
    }
    result.set(id, seen);
  }
  return result;
}

/**
 * Steps that directly need each step, in declaration order: what to re-examine when a step ends
 * (start it if all its needs are done, skip it if it only needs skipped steps).
 */
export function dependentsOf(steps: readonly GraphNode[]): Map<string, string[]> {
  const { ids, edges } = buildGraph(steps);
  const result = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const id of ids) {
    for (const need of edges.get(id) ?? []) result.get(need)?.push(id);
  }
  return result;
}

/**
 * A run order in which every step comes after all the steps it needs; among steps that are ready
 * together, declaration order is kept (see `topologicalIndexes`). `null` when the graph has a cycle.
 */
export function topologicalOrder(steps: readonly GraphNode[]): string[] | null {
  const { ids, edges } = buildGraph(steps);
  const position = new Map(ids.map((id, i) => [id, i]));
  const needs = ids.map((id) => (edges.get(id) ?? []).map((need) => position.get(need) as number));
  const dependents: number[][] = ids.map(() => []);
  needs.forEach((own, i) => {
    for (const j of own) (dependents[j] as number[]).push(i);
  });
  const order = topologicalIndexes(needs, dependents);
  return order.length === ids.length ? order.map((i) => ids[i] as string) : null;
}

/**
 * The one topological sort, over step numbers (declaration indexes), for callers that keep their
 * graph as arrays (the scheduler's compiled plan) and for `topologicalOrder`. `needs[i]` are the
 * steps step i needs and `dependents[i]` the steps that need it, both without repeats. Kahn's
 * algorithm: among the steps whose needs are all placed, the first declared goes next (a binary
 * min-heap of step numbers), O((steps + edges) · log steps). Returns every step that is not on or
 * behind a cycle: fewer than `needs.length` numbers exactly when there is a cycle, and the steps
 * left out are those with a need still unplaced.
 */
export function topologicalIndexes(needs: readonly (readonly number[])[], dependents: readonly (readonly number[])[]): number[] {
  const remaining = needs.map((own) => own.length);
  const heap: number[] = [];
  const push = (i: number): void => {
    let at = heap.push(i) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((heap[parent] as number) <= i) break;
      heap[at] = heap[parent] as number;
      at = parent;
    }
    heap[at] = i;
  };
  const pop = (): number => {
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length > 0) {
      let at = 0;
      for (;;) {
        let child = 2 * at + 1;
        if (child >= heap.length) break;
        if (child + 1 < heap.length && (heap[child + 1] as number) < (heap[child] as number)) child++;
        if ((heap[child] as number) >= last) break;
        heap[at] = heap[child] as number;
        at = child;
      }
      heap[at] = last;
    }
    return top;
  };
  for (let i = 0; i < remaining.length; i++) if (remaining[i] === 0) push(i);
  const order: number[] = [];
  while (heap.length > 0) {
    const next = pop();
    order.push(next);
    for (const d of dependents[next] ?? []) {
      const left = (remaining[d] as number) - 1;
      remaining[d] = left;
      if (left === 0) push(d);
    }
  }
  return order;
}

/**
 * One cycle of the graph, or `null` when it is acyclic. The ids are in order, each step needing
 * the next and the last needing the first: `["a", "b", "c"]` is a → b → c → a; a step that needs
 * itself is `["a"]`. The first cycle of `findCycles`.
 */
export function findCycle(steps: readonly GraphNode[]): string[] | null {
  return findCycles(steps)[0] ?? null;
}

/**
 * One cycle per strongly connected component that has one, so independent cycles are all
 * reported while a tangle of many overlapping cycles is reported once. Each cycle is a shortest
 * cycle through the component's first-declared step, starting at that step; components are
 * ordered by the declaration order of that step.
 */
export function findCycles(steps: readonly GraphNode[]): string[][] {
  const graph = buildGraph(steps);
  const cycles: Array<{ start: number; cycle: string[] }> = [];
  const position = new Map(graph.ids.map((id, i) => [id, i]));
  for (const component of stronglyConnectedComponents(graph)) {
    const members = new Set(component);
    const start = component.reduce((a, b) => ((position.get(a) ?? 0) <= (position.get(b) ?? 0) ? a : b));
    if (component.length === 1 && !(graph.edges.get(start) ?? []).includes(start)) continue;
    cycles.push({ start: position.get(start) ?? 0, cycle: shortestCycleThrough(start, members, graph) });
  }
  return cycles.sort((a, b) => a.start - b.start).map((c) => c.cycle);
}

/** Breadth-first search from `start` back to `start`, inside one component, following needs in order. */
function shortestCycleThrough(start: string, members: ReadonlySet<string>, graph: Graph): string[] {
  const parent = new Map<string, string>();
  const queue: string[] = [start];
  for (let head = 0; head < queue.length; head++) {
    const current = queue[head] as string;
    for (const next of graph.edges.get(current) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const cycle = [current];
        while (cycle[0] !== start) cycle.unshift(parent.get(cycle[0] as string) as string);
        return cycle;
      }
      if (!parent.has(next)) {
        parent.set(next, current);
        queue.push(next);
      }
    }
  }
  // Unreachable for a component with a cycle through `start`; kept total for the type checker.
  return [start];
}

/** Tarjan's algorithm, iterative so a long chain of needs cannot overflow the stack. */
function stronglyConnectedComponents(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of graph.ids) {
    if (index.has(root)) continue;
    // Each frame: a node and how many of its edges were already followed.
    const frames: Array<{ id: string; edge: number }> = [{ id: root, edge: 0 }];
    index.set(root, counter);
    lowLink.set(root, counter);
    counter++;
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { id: string; edge: number };
      const out = graph.edges.get(frame.id) ?? [];
      if (frame.edge < out.length) {
        const next = out[frame.edge] as string;
        frame.edge++;
        if (!index.has(next)) {
          index.set(next, counter);
          lowLink.set(next, counter);
          counter++;
          stack.push(next);
          onStack.add(next);
          frames.push({ id: next, edge: 0 });
        } else if (onStack.has(next)) {
          lowLink.set(frame.id, Math.min(lowLink.get(frame.id) ?? 0, index.get(next) ?? 0));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) lowLink.set(parent.id, Math.min(lowLink.get(parent.id) ?? 0, lowLink.get(frame.id) ?? 0));
      if (lowLink.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        components.push(component);
      }
    }
  }
  return components;
}
