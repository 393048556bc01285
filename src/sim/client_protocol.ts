// What travels between a client and the member it talks to (outside Raft).
import type { NodeId } from "../raft/index.ts";
import type { ClientOp } from "./command.ts";

export interface ClientRequest {
  readonly clientId: number;
  readonly sequence: number;
  readonly op: ClientOp;
  readonly key: string;
  readonly value: string | null;
  readonly expect: string | null;
  /** get: ask the member to serve it from its lease if it believes it leads. */
  readonly lease: boolean;
}

export type ClientReply =
  /** A write was applied at `index`; `ok` is the cas outcome (true for put / delete). */
  | {
      readonly kind: "written";
      readonly clientId: number;
      readonly sequence: number;
      readonly member: NodeId;
      readonly ok: boolean;
      readonly index: number;
    }
  | {
      readonly kind: "read";
      readonly clientId: number;
      readonly sequence: number;
      readonly member: NodeId;
      readonly value: string | null;
    }
  /** Refused before anything was proposed: the request certainly had no effect. */
  | {
      readonly kind: "dropped";
      readonly clientId: number;
      readonly sequence: number;
      readonly member: NodeId;
      readonly leaderHint: NodeId;
      readonly reason: string;
    };
