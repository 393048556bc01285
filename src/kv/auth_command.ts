// The binary codec of the auth commands, a part of command.ts's format: op codes from
// AUTH_OP_BASE up, names as UTF-8 byte strings, hashes and keys as byte strings.
import type { ByteReader, ByteWriter } from "./bytes.ts";
import { CommandDecodeError } from "./errors.ts";
import type { AuthCommand, Command, Permission, PermissionType } from "./types.ts";

/** Op codes below this belong to the kv commands; auth ops take AUTH_OP_BASE + index. */
export const AUTH_OP_BASE = 64;

const AUTH_OPS = [
  "authEnable",
  "authDisable",
  "userAdd",
  "userDelete",
  "userChangePassword",
  "userGrantRole",
  "userRevokeRole",
  "roleAdd",
  "roleDelete",
  "roleGrantPermission",
  "roleRevokePermission",
] as const satisfies readonly AuthCommand["op"][];

const AUTH_OP_SET: ReadonlySet<string> = new Set(AUTH_OPS);

export function isAuthCommand(c: { op: string }): c is AuthCommand {
  return AUTH_OP_SET.has(c.op);
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function name(r: ByteReader): string {
  try {
    return dec.decode(r.bytes());
  } catch {
    throw new CommandDecodeError("name is not UTF-8");
  }
}

export function writeAuthOp(w: ByteWriter, c: AuthCommand): void {
  w.u8(AUTH_OP_BASE + AUTH_OPS.indexOf(c.op));
  switch (c.op) {
    case "authEnable":
      w.bytes(c.secret);
      return;
    case "authDisable":
      return;
    case "userAdd":
      w.bytes(enc.encode(c.user));
      w.bytes(c.passwordHash);
      w.u8(c.noPassword ? 1 : 0);
      return;
    case "userDelete":
      w.bytes(enc.encode(c.user));
      return;
    case "userChangePassword":
      w.bytes(enc.encode(c.user));
      w.bytes(c.passwordHash);
      return;
    case "userGrantRole":
    case "userRevokeRole":
      w.bytes(enc.encode(c.user));
      w.bytes(enc.encode(c.role));
      return;
    case "roleAdd":
    case "roleDelete":
      w.bytes(enc.encode(c.role));
      return;
    case "roleGrantPermission":
      w.bytes(enc.encode(c.role));
      writePermission(w, c.permission);
      return;
    case "roleRevokePermission":
      w.bytes(enc.encode(c.role));
      w.bytes(c.key);
      w.bytes(c.rangeEnd);
      return;
  }
}

/** `code` is the op byte, already read (>= AUTH_OP_BASE). */
export function readAuthOp(r: ByteReader, code: number): Command {
  const op = AUTH_OPS[code - AUTH_OP_BASE];
  if (op === undefined) throw new CommandDecodeError(`unknown op ${code - 1}`);
  switch (op) {
    case "authEnable":
      return { op, secret: r.bytes() };
    case "authDisable":
      return { op };
    case "userAdd": {
      const user = name(r);
      const passwordHash = r.bytes();
      const f = r.u8();
      if (f > 1) throw new CommandDecodeError("bad userAdd flags");
      return { op, user, passwordHash, noPassword: f === 1 };
    }
    case "userDelete":
      return { op, user: name(r) };
    case "userChangePassword":
      return { op, user: name(r), passwordHash: r.bytes() };
    case "userGrantRole":
    case "userRevokeRole":
      return { op, user: name(r), role: name(r) };
    case "roleAdd":
    case "roleDelete":
      return { op, role: name(r) };
    case "roleGrantPermission":
      return { op, role: name(r), permission: readPermission(r) };
    case "roleRevokePermission":
      return { op, role: name(r), key: r.bytes(), rangeEnd: r.bytes() };
  }
}

export function writePermission(w: ByteWriter, p: Permission): void {
  w.u8(p.type);
  w.bytes(p.key);
  w.bytes(p.rangeEnd);
}

export function readPermission(r: ByteReader): Permission {
  const type = r.u8();
  if (type > 2) throw new CommandDecodeError(`unknown permission type ${type}`);
  return { type: type as PermissionType, key: r.bytes(), rangeEnd: r.bytes() };
}
