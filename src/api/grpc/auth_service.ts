// etcdserverpb.Auth: enable/disable, status, authenticate, users, roles, permissions. Changes go
// through the Raft log (passwords hashed here first, so the log never holds one); reads answer
// from this member's applied state after a linearizable read barrier.
import { randomBytes } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import {
  type ApplyResult,
  type AuthCommand,
  hashPassword,
  KvError,
  type PermissionType,
  ROOT,
  verifyPassword,
} from "../../kv/index.ts";
import type { QmeshNode } from "../../node/node.ts";
import { TokenAuthGate } from "./auth_gate.ts";
import { issueToken, TOKEN_TTL_MS } from "./auth_token.ts";
import { type ApiContext, type Reply, responseHeader, unary } from "./context.ts";
import { EtcdErrors } from "./etcd_errors.ts";
import { applied } from "./kv_service.ts";

/** The header and ledger index of an applied auth change; a refusal throws etcd's error. */
function appliedChange(node: QmeshNode, result: ApplyResult | null): Reply<object> {
  const done = applied(node, result);
  return {
    response: { header: responseHeader(node, done.revision) },
    ledgerIndex: done.ledgerIndex,
  };
}

/** Waits until this member has applied everything committed before the call (ReadIndex). */
async function readBarrier(node: QmeshNode): Promise<void> {
  await node.range({ key: Uint8Array.of(0), countOnly: true }, false);
}

interface PermissionPb {
  permType: number;
  key: Uint8Array;
  range_end: Uint8Array;
}

const ROOT_PERMISSION: PermissionPb = {
  permType: 2,
  key: new Uint8Array(0),
  range_end: Uint8Array.of(0),
};

/** Checks a user's password on this member's applied state and issues a token for it. */
export async function authenticate(node: QmeshNode, name: string, password: string) {
  await readBarrier(node);
  const auth = node.kv.auth;
  const secret = auth.secret;
  if (!auth.enabled || secret === undefined) throw EtcdErrors.authNotEnabled;
  const user = auth.user(name);
  if (user === undefined || user.noPassword) throw EtcdErrors.authFailed;
  if (!(await verifyPassword(password, user.passwordHash))) throw EtcdErrors.authFailed;
  const claims = {
    user: user.name,
    revision: auth.revision,
    expiresAtMs: Date.now() + TOKEN_TTL_MS,
  };
  return issueToken(secret, claims);
}

export function authService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  const auth = node.kv.auth;
  const gate = ctx.auth instanceof TokenAuthGate ? ctx.auth : new TokenAuthGate(auth);
  const header = () => responseHeader(node);
  /** A root-only change. */
  const change = <Req>(make: (pb: Req) => Promise<AuthCommand> | AuthCommand) =>
    unary(async (pb: Req, call) => {
      ctx.auth.checkAdmin(call.metadata);
      return appliedChange(node, await node.propose(await make(pb)));
    });
  /** A root-only read, after the barrier. */
  const read = (answer: () => object) =>
    unary(async (_pb: object, call) => {
      ctx.auth.checkAdmin(call.metadata);
      await readBarrier(node);
      return { response: { header: header(), ...answer() } };
    });
  const hash = (password: string, noPassword = false) =>
    noPassword ? Promise.resolve(new Uint8Array(0)) : hashPassword(password);

  return {
    AuthEnable: change(() => ({ op: "authEnable", secret: new Uint8Array(randomBytes(32)) })),
    AuthDisable: change(() => ({ op: "authDisable" })),
    AuthStatus: read(() => ({ enabled: auth.enabled, authRevision: auth.revision })),
    Authenticate: unary(async (pb: { name: string; password: string }) => ({
      response: { header: header(), token: await authenticate(node, pb.name, pb.password) },
    })),
    UserAdd: change(
      async (pb: { name: string; password: string; options: { no_password: boolean } | null }) => {
        // Checked before the slow hash; apply checks again.
        if (pb.name === "") throw EtcdErrors.userEmpty;
        const noPassword = pb.options?.no_password === true;
        return {
          op: "userAdd",
          user: pb.name,
          noPassword,
          passwordHash: await hash(pb.password, noPassword),
        };
      },
    ),
    UserGet: unary(async (pb: { name: string }, call) => {
      gate.checkAdminOr(call.metadata, (user) => user.name === pb.name);
      await readBarrier(node);
      const user = auth.user(pb.name);
      if (user === undefined) throw EtcdErrors.userNotFound;
      return { response: { header: header(), roles: user.roles } };
    }),
    UserList: read(() => ({ users: auth.userNames() })),
    UserDelete: change((pb: { name: string }) => ({ op: "userDelete", user: pb.name })),
    UserChangePassword: change(async (pb: { name: string; password: string }) => {
      return { op: "userChangePassword", user: pb.name, passwordHash: await hash(pb.password) };
    }),
    UserGrantRole: change((pb: { user: string; role: string }) => ({
      op: "userGrantRole",
      user: pb.user,
      role: pb.role,
    })),
    UserRevokeRole: change((pb: { name: string; role: string }) => ({
      op: "userRevokeRole",
      user: pb.name,
      role: pb.role,
    })),
    RoleAdd: change((pb: { name: string }) => ({ op: "roleAdd", role: pb.name })),
    RoleGet: unary(async (pb: { role: string }, call) => {
      gate.checkAdminOr(call.metadata, (user) => user.roles.includes(pb.role));
      await readBarrier(node);
      const role = auth.role(pb.role);
      if (role === undefined) throw EtcdErrors.roleNotFound;
      const perm =
        role.name === ROOT
          ? [ROOT_PERMISSION]
          : role.permissions.map((p) => ({ permType: p.type, key: p.key, range_end: p.rangeEnd }));
      return { response: { header: header(), perm } };
    }),
    RoleList: read(() => ({ roles: auth.roleNames() })),
    RoleDelete: change((pb: { role: string }) => ({ op: "roleDelete", role: pb.role })),
    RoleGrantPermission: change((pb: { name: string; perm: PermissionPb | null }) => {
      if (pb.perm === null) throw EtcdErrors.permissionNotGiven;
      if (pb.perm.permType < 0 || pb.perm.permType > 2) {
        throw new KvError("InvalidArgument", "etcdserver: invalid permission type");
      }
      const permission = {
        type: pb.perm.permType as PermissionType,
        key: new Uint8Array(pb.perm.key),
        rangeEnd: new Uint8Array(pb.perm.range_end),
      };
      return { op: "roleGrantPermission", role: pb.name, permission };
    }),
    RoleRevokePermission: change(
      (pb: { role: string; key: Uint8Array; range_end: Uint8Array }) => ({
        op: "roleRevokePermission",
        role: pb.role,
        key: new Uint8Array(pb.key),
        rangeEnd: new Uint8Array(pb.range_end),
      }),
    ),
  };
}
