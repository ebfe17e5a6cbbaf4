import { evictDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isTerminalEvent } from "../../src/engine/state-machine";
import { call, tenantWithKeys } from "../helpers/api";
import { NAP_THEN_GO, eventsOf, start, waitForStatus } from "../helpers/executions";
import { advanceAndRunAlarm, stubOf } from "../helpers/objects";
import { asClient, openSocket, type SocketMessage } from "../helpers/socket";

const isTerminal = (m: SocketMessage) => isTerminalEvent(m.type);


async function sleepingExecution(prefix: string) {
  const t = await tenantWithKeys(prefix);
  const res = await start(t.operator, NAP_THEN_GO);
  await waitForStatus(t.viewer, res.body.id, ["waiting"]);
  return { t, id: res.body.id };
}

describe("GET /v1/executions/{id}/ws", { timeout: 30_000 }, () => {
  it("sends a snapshot, replays, then streams live across a wake, and closes 1000 after the terminal event", async () => {
    const { t, id } = await sleepingExecution("ws-live");
    const client = asClient(await openSocket(id, { key: t.viewer }));
    const first = await client.next();
    expect(first).toMatchObject({ type: "snapshot", execution: { id, status: "waiting" } });
    const replayed = await client.until((m) => m.type === "execution.waiting");
    expect(await advanceAndRunAlarm(id, 601_000)).toBe(true);
    const live = await client.until(isTerminal);
    const all = [...replayed, ...live];
    expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all).toEqual(await eventsOf(t.viewer, id)); // the same shape as the JSON page
    expect(live.map((m) => m.type)).toEqual(["step.completed", "step.started", "step.completed", "execution.completed"]);
    expect(await client.next()).toBeNull();
    expect(client.closeCode).toBe(1000);
  });

  it("50 concurrent clients receive identical sequences", async () => {
    const { t, id } = await sleepingExecution("ws-fan");
    const clients = await Promise.all(Array.from({ length: 50 }, async () => asClient(await openSocket(id, { key: t.viewer }))));
    await Promise.all(clients.map((c) => c.until((m) => m.type === "execution.waiting")));
    expect(await advanceAndRunAlarm(id, 601_000)).toBe(true);
    const sequences = await Promise.all(clients.map((c) => c.until(isTerminal)));
    const expected = sequences[0]!.map((m) => m.seq);
    expect(expected.length).toBe(4);
    for (const s of sequences) expect(s.map((m) => m.seq)).toEqual(expected);
    for (const c of clients) {
      expect(await c.next()).toBeNull();
      expect(c.closeCode).toBe(1000);
    }
  });

  it("resumes after ?after= with exactly the missed events", async () => {
    const { t, id } = await sleepingExecution("ws-resume");
    const log = await eventsOf(t.viewer, id);
    const client = asClient(await openSocket(id, { key: t.viewer }, 3));
    expect((await client.next())!.type).toBe("snapshot");
    const replayed = await client.until((m) => m.type === "execution.waiting");
    expect(replayed.map((m) => m.seq)).toEqual(log.filter((e) => e.seq > 3).map((e) => e.seq));
  });

  it("survives hibernation: after the object is evicted, live events still reach the socket", async () => {
    const { t, id } = await sleepingExecution("ws-hibernate");
    const client = asClient(await openSocket(id, { key: t.viewer }));
    await client.until((m) => m.type === "execution.waiting");
    await evictDurableObject(stubOf(id), { webSockets: "hibernate" });
    expect(await advanceAndRunAlarm(id, 601_000)).toBe(true);
    const live = await client.until(isTerminal);
    expect(live.map((m) => m.type)).toEqual(["step.completed", "step.started", "step.completed", "execution.completed"]);
    const all = await eventsOf(t.viewer, id);
    expect(live.map((m) => m.seq)).toEqual(all.slice(-4).map((e) => e.seq));
    expect(await client.next()).toBeNull();
    expect(client.closeCode).toBe(1000);
  });

  it("authenticates before any upgrade: token works, bad token 401, other tenant 404, no Upgrade 426", async () => {
    const { t, id } = await sleepingExecution("ws-auth");
    const other = await tenantWithKeys("ws-other");
    const token = (await call<{ token: string }>("POST", `/v1/executions/${id}/stream-token`, { key: t.viewer })).body.token;
    const viaToken = asClient(await openSocket(id, { token }));
    expect((await viaToken.next())!.type).toBe("snapshot");
    viaToken.ws.close(1000);
    const bad = await openSocket(id, { token: `${token}x` });
    expect(bad instanceof Response && bad.status).toBe(401);
    const none = await openSocket(id, {});
    expect(none instanceof Response && none.status).toBe(401);
    const cross = await openSocket(id, { key: other.admin });
    expect(cross instanceof Response && cross.status).toBe(404);
    const plain = await exports.default.fetch(new Request(`http://stepline.test/v1/executions/${id}/ws`, { headers: { authorization: `Bearer ${t.viewer}` } }));
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as { code: string }).code).toBe("UPGRADE_REQUIRED");
  });
});
