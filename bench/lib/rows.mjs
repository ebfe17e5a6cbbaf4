// The rows of the report: one figure per row, Stepline beside the peer, spread over rounds, the
// ratio (paired round by round, > 1 means Stepline is better) and the goal when there is one.
import { spread } from "./stats.mjs";

/**
 * @param {object} r
 * @param {string} r.scenario  scenario id
 * @param {string} r.metric    what is measured
 * @param {string} r.unit
 * @param {"lower"|"higher"} r.better
 * @param {number[]} r.stepline  one value per round
 * @param {number[]|null} [r.peer]  one value per round, or null when the peer cannot do it
 * @param {{ text: string, met: (row: object) => boolean }} [r.goal]
 * @param {string} [r.note]
 */
export function row({ scenario, metric, unit, better, stepline, peer = null, goal, note }) {
  const out = { scenario, metric, unit, better, stepline: spread(stepline), peer: peer ? spread(peer) : null, ratio: null, goal: null, note: note ?? null };
  if (peer && out.peer) {
    const pairs = Math.min(stepline.length, peer.length);
    const ratios = [];
    for (let i = 0; i < pairs; i++) {
      if (stepline[i] > 0 && peer[i] > 0) ratios.push(better === "lower" ? peer[i] / stepline[i] : stepline[i] / peer[i]);
    }
    out.ratio = spread(ratios);
  }
  if (goal) out.goal = { text: goal.text, met: out.stepline ? goal.met(out) : false };
  return out;
}

/**
 * Picks one field out of each round's result, keeping round positions (null where a round failed
 * or lacks the figure) so Stepline and peer rounds pair up; spread() ignores the nulls.
 */
export const field = (rounds, pick) =>
  (rounds ?? []).map((r) => {
    const v = r == null ? null : pick(r);
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  });
