import { describe, expect, it } from "vitest";
import {
  ExecutionStatus as ExecutionStatusSchema,
  StepStatus as StepStatusSchema,
  type ExecutionStatus,
  type StepStatus,
} from "../../src/schemas/executions";
import {
  allowedExecutionCommands,
  allowedStepCommands,
  ENDED_STEP_STATUSES,
  EXECUTION_COMMANDS,
  EXECUTION_ENGINE_COMMANDS,
  EXECUTION_USER_COMMANDS,
  isEndedStep,
  isTerminalEvent,
  isTerminalExecution,
  STEP_COMMANDS,
  TERMINAL_EXECUTION_STATUSES,
  transitionExecution,
  transitionStep,
} from "../../src/engine/state-machine";
import type { ExecutionCommand, StepCommand } from "../../src/engine/state-machine";
import { EXECUTION_STATUSES, STEP_STATUSES } from "../../src/schemas/vocabulary";

const __ = "illegal" as const;

// The whole execution table, written out: one row per status, one column per command.
// Columns are listed here (not taken from the module) so that a reordered or renamed command fails the test.
const EXECUTION_COLUMNS = [
  "approve", "reject", "cancel", "pause", "resume", "retry", "rerun", "answer",
  "admit", "wait", "wake", "complete", "complete_partial", "fail", "time_out", "expire_approval",
] as const;
type ExecCell = ExecutionStatus | typeof __;
// prettier-ignore
const EXPECTED_EXECUTION: Record<ExecutionStatus, readonly ExecCell[]> = {
  //                  approve     reject       cancel        pause      resume      retry      rerun      answer      admit       wait        wake        complete      complete_partial fail       time_out      expire_approval
  pending_approval: ["queued",   "rejected",  "cancelled",  __,        __,         __,        __,        __,         __,         __,         __,         __,           __,         __,        "timed_out",  "rejected"],
  queued:           [__,         __,          "cancelled",  __,        __,         __,        __,        __,         "running",  __,         __,         __,           __,         __,        "timed_out",  __],
  running:          ["running",  "rejected",  "cancelled",  "paused",  __,         __,        __,        "running",  __,         "waiting",  __,         "completed",  "partial",  "failed",  "timed_out",  "rejected"],
  waiting:          ["running",  "rejected",  "cancelled",  "paused",  __,         __,        __,        "running",  __,         __,         "running",  __,           __,         "failed",  "timed_out",  "rejected"],
  paused:           ["paused",   "rejected",  "cancelled",  __,        "running",  __,        __,        "paused",   __,         __,         __,         __,           __,         __,        "timed_out",  "rejected"],
  completed:        [__,         __,          __,           __,        __,         __,        "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
  partial:          [__,         __,          __,           __,        __,         __,        "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
  failed:           [__,         __,          __,           __,        __,         "queued",  "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
  cancelled:        [__,         __,          __,           __,        __,         __,        "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
  timed_out:        [__,         __,          __,           __,        __,         "queued",  "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
  rejected:         [__,         __,          __,           __,        __,         __,        "queued",  __,         __,         __,         __,         __,           __,         __,        __,           __],
};

const STEP_COLUMNS = [
  "start", "complete", "fail", "schedule_retry", "wait", "skip", "cancel", "interrupt", "redrive", "hold", "release",
] as const;
type StepCell = StepStatus | typeof __;
// prettier-ignore
const EXPECTED_STEP: Record<StepStatus, readonly StepCell[]> = {
  //          start      complete     fail      schedule_retry wait       skip       cancel       interrupt  redrive    hold       release
  pending:   ["running", __,          "failed", __,            __,        "skipped", "cancelled", __,        __,        "waiting", __       ],
  running:   [__,        "completed", "failed", "pending",     "waiting", __,        "cancelled", "pending", __,        __,        __       ],
  waiting:   [__,        "completed", "failed", "pending",     __,        __,        "cancelled", __,        __,        __,        "pending"],
  completed: [__,        __,          __,       __,            __,        __,        __,          __,        "pending", __,        __       ],
  failed:    [__,        __,          __,       __,            __,        __,        __,          __,        "pending", __,        __       ],
  skipped:   [__,        __,          __,       __,            __,        __,        __,          __,        "pending", __,        __       ],
  cancelled: [__,        __,          __,       __,            __,        __,        __,          __,        "pending", __,        __       ],
};

describe("execution state machine", () => {
  it("lists the statuses of SPEC §3, the same as the wire schema", () => {
    expect([...EXECUTION_STATUSES]).toEqual([
      "pending_approval", "queued", "running", "waiting", "paused",
      "completed", "partial", "failed", "cancelled", "timed_out", "rejected",
    ]);
    expect(ExecutionStatusSchema.options).toEqual([...EXECUTION_STATUSES]);
    expect([...TERMINAL_EXECUTION_STATUSES]).toEqual(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);
  });

  it("the expected table covers every status and every command exactly once", () => {
    expect(Object.keys(EXPECTED_EXECUTION).sort()).toEqual([...EXECUTION_STATUSES].sort());
    expect([...EXECUTION_COLUMNS].sort()).toEqual([...EXECUTION_COMMANDS].sort());
    expect(new Set(EXECUTION_COLUMNS).size).toBe(EXECUTION_COLUMNS.length);
    for (const row of Object.values(EXPECTED_EXECUTION)) expect(row).toHaveLength(EXECUTION_COLUMNS.length);
    expect([...EXECUTION_USER_COMMANDS, ...EXECUTION_ENGINE_COMMANDS]).toEqual([...EXECUTION_COMMANDS]);
  });

  it("transitionExecution matches the table for every status × command", () => {
    let checked = 0;
    for (const from of EXECUTION_STATUSES) {
      EXECUTION_COLUMNS.forEach((command, col) => {
        const expected = EXPECTED_EXECUTION[from][col];
        const result = transitionExecution(from, command);
        const got = result.ok ? result.to : __;
        expect({ from, command, to: got }).toEqual({ from, command, to: expected });
        checked++;
      });
    }
    expect(checked).toBe(11 * 16);
  });

  it("an illegal request reports the current status and the commands it allows, in command order", () => {
    expect(transitionExecution("completed", "cancel")).toEqual({ ok: false, from: "completed", command: "cancel", allowed: ["rerun"] });
    expect(transitionExecution("failed", "cancel")).toEqual({ ok: false, from: "failed", command: "cancel", allowed: ["retry", "rerun"] });
    expect(transitionExecution("queued", "pause")).toEqual({
      ok: false,
      from: "queued",
      command: "pause",
      allowed: ["cancel", "admit", "time_out"],
    });
    expect(transitionExecution("paused", "pause")).toEqual({
      ok: false,
      from: "paused",
      command: "pause",
      allowed: ["approve", "reject", "cancel", "resume", "answer", "time_out", "expire_approval"],
    });
  });

  it("allowed lists agree with the table for every refusal", () => {
    for (const from of EXECUTION_STATUSES) {
      const legal = EXECUTION_COLUMNS.filter((_, col) => EXPECTED_EXECUTION[from][col] !== __);
      const ordered = EXECUTION_COMMANDS.filter((c) => (legal as readonly string[]).includes(c));
      expect(allowedExecutionCommands(from)).toEqual(ordered);
      for (const command of EXECUTION_COMMANDS) {
        const result = transitionExecution(from, command);
        if (!result.ok) expect(result.allowed).toEqual(ordered);
      }
    }
  });

  it("allowedExecutionCommands(…, 'user') keeps the commands a person may send", () => {
    expect(allowedExecutionCommands("running", "user")).toEqual(["approve", "reject", "cancel", "pause", "answer"]);
    expect(allowedExecutionCommands("queued", "user")).toEqual(["cancel"]);
    expect(allowedExecutionCommands("timed_out", "user")).toEqual(["retry", "rerun"]);
    expect(allowedExecutionCommands("completed", "user")).toEqual(["rerun"]);
  });

  it("a legal transition says whether the status changed", () => {
    expect(transitionExecution("running", "answer")).toEqual({ ok: true, to: "running", changed: false });
    expect(transitionExecution("paused", "approve")).toEqual({ ok: true, to: "paused", changed: false });
    expect(transitionExecution("waiting", "answer")).toEqual({ ok: true, to: "running", changed: true });
  });

  it("cancel and time_out end every non-terminal status; terminal statuses accept only rerun, and retry from failed/timed_out", () => {
    for (const s of EXECUTION_STATUSES) {
      if (isTerminalExecution(s)) {
        const allowed = EXECUTION_COMMANDS.filter((c) => transitionExecution(s, c).ok);
        expect(allowed).toEqual(s === "failed" || s === "timed_out" ? ["retry", "rerun"] : ["rerun"]);
      } else {
        expect(transitionExecution(s, "cancel")).toMatchObject({ ok: true, to: "cancelled" });
        expect(transitionExecution(s, "time_out")).toMatchObject({ ok: true, to: "timed_out" });
      }
    }
  });

  it("isTerminalEvent: exactly the execution.<terminal status> events", () => {
    for (const st of EXECUTION_STATUSES) expect(isTerminalEvent(`execution.${st}`)).toBe(isTerminalExecution(st));
    for (const type of ["step.completed", "step.failed", "execution.started", "execution.waiting", "answers.received"]) {
      expect(isTerminalEvent(type)).toBe(false);
    }
  });

  it("isTerminalExecution", () => {
    expect(EXECUTION_STATUSES.filter(isTerminalExecution)).toEqual([...TERMINAL_EXECUTION_STATUSES]);
  });

  it("does not treat inherited object keys as commands", () => {
    expect(transitionExecution("running", "toString" as ExecutionCommand).ok).toBe(false);
    expect(transitionStep("pending", "constructor" as StepCommand).ok).toBe(false);
  });
});

describe("step state machine", () => {
  it("lists the step statuses, the same as the wire schema", () => {
    expect([...STEP_STATUSES]).toEqual(["pending", "running", "waiting", "completed", "failed", "skipped", "cancelled"]);
    expect(StepStatusSchema.options).toEqual([...STEP_STATUSES]);
    expect(STEP_STATUSES.filter(isEndedStep)).toEqual([...ENDED_STEP_STATUSES]);
    expect([...ENDED_STEP_STATUSES]).toEqual(["completed", "failed", "skipped", "cancelled"]);
  });

  it("the expected table covers every status and every command exactly once", () => {
    expect(Object.keys(EXPECTED_STEP).sort()).toEqual([...STEP_STATUSES].sort());
    expect([...STEP_COLUMNS].sort()).toEqual([...STEP_COMMANDS].sort());
    expect(new Set(STEP_COLUMNS).size).toBe(STEP_COLUMNS.length);
    for (const row of Object.values(EXPECTED_STEP)) expect(row).toHaveLength(STEP_COLUMNS.length);
  });

  it("transitionStep matches the table for every status × command", () => {
    let checked = 0;
    for (const from of STEP_STATUSES) {
      STEP_COLUMNS.forEach((command, col) => {
        const expected = EXPECTED_STEP[from][col];
        const result = transitionStep(from, command);
        const got = result.ok ? result.to : __;
        expect({ from, command, to: got }).toEqual({ from, command, to: expected });
        checked++;
      });
    }
    expect(checked).toBe(7 * 11);
  });

  it("an illegal step request reports what is allowed", () => {
    expect(transitionStep("completed", "complete")).toEqual({ ok: false, from: "completed", command: "complete", allowed: ["redrive"] });
    expect(transitionStep("waiting", "start")).toEqual({
      ok: false,
      from: "waiting",
      command: "start",
      allowed: ["complete", "fail", "schedule_retry", "cancel", "release"],
    });
    for (const from of STEP_STATUSES) {
      const legal = STEP_COMMANDS.filter((c) => EXPECTED_STEP[from][STEP_COLUMNS.indexOf(c)] !== __);
      expect(allowedStepCommands(from)).toEqual(legal);
    }
  });

  it("a retried attempt goes back to pending and starts again", () => {
    const path: Array<[StepCommand, StepStatus]> = [
      ["start", "running"],
      ["schedule_retry", "pending"],
      ["start", "running"],
      ["interrupt", "pending"],
      ["start", "running"],
      ["wait", "waiting"],
      ["complete", "completed"],
    ];
    let status: StepStatus = "pending";
    for (const [command, to] of path) {
      const result = transitionStep(status, command);
      expect(result).toEqual({ ok: true, to, changed: true });
      if (result.ok) status = result.to;
    }
  });
});
