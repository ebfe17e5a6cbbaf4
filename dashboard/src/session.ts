/**
 * The signed-in key: kept in sessionStorage only (gone when the tab closes; never in a URL or in
 * localStorage), the typed client built on it, and what the key's role may do (asked once at
 * sign-in from GET /v1/api-keys/current, so the pages show only the controls that would succeed).
 */
import { SteplineError, createStepline, must, type Stepline, type components } from "../../client/src/index";

export type CurrentKey = components["schemas"]["CurrentApiKey"];

const STORAGE_KEY = "stepline.apiKey";

export interface Session {
  client: Stepline;
  key: CurrentKey;
  can(permission: string): boolean;
}

export { must };

async function open(apiKey: string): Promise<Session> {
  const client = createStepline({ baseUrl: location.origin, apiKey });
  const key = await must(client.api.GET("/v1/api-keys/current"));
  return { client, key, can: (permission) => key.permissions.includes(permission) };
}

/** Checks the key with the service and keeps it for this tab. */
export async function signIn(apiKey: string): Promise<Session> {
  const session = await open(apiKey.trim());
  sessionStorage.setItem(STORAGE_KEY, apiKey.trim());
  return session;
}

/** The session kept by this tab, or null (none, or its key no longer works). */
export async function resume(): Promise<Session | null> {
  const kept = sessionStorage.getItem(STORAGE_KEY);
  if (!kept) return null;
  try {
    return await open(kept);
  } catch (err) {
    if (err instanceof SteplineError && err.status === 401) sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
