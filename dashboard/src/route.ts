/**
 * Pages are addressed by the URL's fragment (`#/executions/ex_…`), so every page is the one static
 * index.html and a path under / never shadows an API route. Query parameters after `?` carry a
 * page's filters; nothing secret ever goes in them.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** Path segments after `#/`, e.g. ["executions", "ex_1"]. */
  parts: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = raw.split("?", 2);
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** The fragment of a page, e.g. href("executions", id) → "#/executions/ex_1". */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

/** Replaces the current page's query (its filters) without adding a history entry per keystroke. */
export function setQuery(values: Record<string, string | undefined>): void {
  const { parts } = currentRoute();
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) query.set(k, v);
  const search = query.toString();
  history.replaceState(null, "", `${href(...parts)}${search ? `?${search}` : ""}`);
}
