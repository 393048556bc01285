// The auth store (etcd's server/auth/store.go): users, roles and key permissions, replicated like
// every other command and kept in the "auth" LMDB database, so snapshots and hashState cover it.
//
//   auth  [0x00]"enabled" -> [1]           absent = disabled
//         [0x00]"revision" -> u64 BE        authRevision: +1 on every change
//         [0x00]"secret" -> 32 bytes        HMAC key of the tokens of the current enablement
//         [0x01]utf8(user) -> user record   [flags u8: 1 = no password][tokenRevision varint]
//                                           [password hash][role count varint][role names]
//         [0x02]utf8(role) -> role record   [count varint][type u8, key, rangeEnd]...
//
// Byte strings are varint length + bytes. Apply only reads and writes LMDB: password hashing
// happens before proposing and token checks happen at the API, so apply is deterministic.
import { readPermission, writePermission } from "./auth_command.ts";
import { permits } from "./auth_perms.ts";
import { ByteReader, ByteWriter, bytesEqual, compareBytes, readU64, u64Bytes } from "./bytes.ts";
import { KvError } from "./errors.ts";
import { MAX_KEY_BYTES } from "./key_limits.ts";
import type { Dbs } from "./layout.ts";
import type { AuthCommand, CommandResponse, Permission } from "./types.ts";

export const ROOT = "root";

export interface AuthUser {
  name: string;
  roles: string[];
  noPassword: boolean;
  passwordHash: Uint8Array;
  /** Tokens issued at an auth revision below this are void (password changed, user re-added). */
  tokenRevision: number;
}

export interface AuthRole {
  name: string;
  permissions: Permission[];
}

/** etcd's messages (api/v3rpc/rpctypes), which clients match on. */
const E = {
  rootUserNotExist: "etcdserver: root user does not exist",
  rootRoleNotExist: "etcdserver: root user does not have root role",
  userAlreadyExist: "etcdserver: user name already exists",
  userEmpty: "etcdserver: user name is empty",
  userNotFound: "etcdserver: user name not found",
  roleAlreadyExist: "etcdserver: role name already exists",
  roleNotFound: "etcdserver: role name not found",
  roleEmpty: "etcdserver: role name is empty",
  roleNotGranted: "etcdserver: role is not granted to the user",
  permissionNotGranted: "etcdserver: permission is not granted to the role",
  invalidAuthMgmt: "etcdserver: invalid auth management",
} as const;

const fail = (message: string): never => {
  throw new KvError("Auth", message);
};

const enc = new TextEncoder();
const dec = new TextDecoder();
const K_ENABLED = Uint8Array.of(0, ...enc.encode("enabled"));
const K_REVISION = Uint8Array.of(0, ...enc.encode("revision"));
const K_SECRET = Uint8Array.of(0, ...enc.encode("secret"));
const USER = 1;
const ROLE = 2;

function nameKey(prefix: number, name: string): Uint8Array {
  const bytes = enc.encode(name);
  // Names are LMDB keys: refuse what LMDB cannot hold as a request error, never a fatal one.
  if (bytes.length > MAX_KEY_BYTES) {
    throw new KvError(
      "InvalidArgument",
      `etcdserver: user or role name is too long: ${bytes.length} bytes, over ${MAX_KEY_BYTES}`,
    );
  }
  return Uint8Array.of(prefix, ...bytes);
}

function encodeUser(u: AuthUser): Uint8Array {
  const w = new ByteWriter();
  w.u8(u.noPassword ? 1 : 0);
  w.varint(u.tokenRevision);
  w.bytes(u.passwordHash);
  w.varint(u.roles.length);
  for (const role of u.roles) w.bytes(enc.encode(role));
  return w.finish();
}

function decodeUser(name: string, b: Uint8Array): AuthUser {
  const r = new ByteReader(b, (m) => new Error(`damaged auth user record: ${m}`));
  const noPassword = r.u8() === 1;
  const tokenRevision = r.varint();
  const passwordHash = r.bytes();
  const roles: string[] = [];
  for (let n = r.varint(); n > 0; n--) roles.push(dec.decode(r.bytes()));
  return { name, roles, noPassword, passwordHash, tokenRevision };
}

function encodeRole(permissions: readonly Permission[]): Uint8Array {
  const w = new ByteWriter();
  w.varint(permissions.length);
  for (const p of permissions) writePermission(w, p);
  return w.finish();
}

function decodeRole(name: string, b: Uint8Array): AuthRole {
  const r = new ByteReader(b, (m) => new Error(`damaged auth role record: ${m}`));
  const permissions: Permission[] = [];
  for (let n = r.varint(); n > 0; n--) permissions.push(readPermission(r));
  return { name, permissions };
}

/** Bytewise UTF-8 order, as etcd's sort.Strings and bbolt keys. */
const byUtf8 = (a: string, b: string): number => compareBytes(enc.encode(a), enc.encode(b));

/** Reads of the applied auth state; `dbs` is a getter because a snapshot restore reopens LMDB. */
export class AuthReader {
  constructor(private readonly dbs: () => Dbs) {}

  get enabled(): boolean {
    return this.dbs().auth.get(K_ENABLED) !== undefined;
  }

  get revision(): number {
    const v = this.dbs().auth.get(K_REVISION);
    return v === undefined ? 0 : readU64(v, 0);
  }

  /** The token key while auth is enabled. */
  get secret(): Uint8Array | undefined {
    const v = this.dbs().auth.get(K_SECRET);
    return v === undefined ? undefined : new Uint8Array(v);
  }

  user(name: string): AuthUser | undefined {
    const v = this.dbs().auth.get(nameKey(USER, name));
    return v === undefined ? undefined : decodeUser(name, v);
  }

  role(name: string): AuthRole | undefined {
    const v = this.dbs().auth.get(nameKey(ROLE, name));
    return v === undefined ? undefined : decodeRole(name, v);
  }

  userNames(): string[] {
    return this.names(USER);
  }

  roleNames(): string[] {
    return this.names(ROLE);
  }

  private names(prefix: number): string[] {
    const out: string[] = [];
    const range = { start: Uint8Array.of(prefix), end: Uint8Array.of(prefix + 1) };
    for (const key of this.dbs().auth.getKeys(range)) out.push(dec.decode(key.subarray(1)));
    return out;
  }

  /** Whether `user` may read (or write) all of [key, rangeEnd); the root role may do anything. */
  permits(user: AuthUser, key: Uint8Array, rangeEnd: Uint8Array, write: boolean): boolean {
    if (user.roles.includes(ROOT)) return true;
    const permissions = user.roles.flatMap((name) => this.role(name)?.permissions ?? []);
    return permits(permissions, key, rangeEnd, write);
  }
}

/** Applies one auth command inside the batch's LMDB write txn; refusals throw KvError "Auth". */
export function applyAuth(dbs: Dbs, c: AuthCommand): CommandResponse {
  const store = new AuthWriter(dbs);
  store.apply(c);
  return { op: c.op };
}

class AuthWriter {
  private readonly read: AuthReader;

  constructor(private readonly dbs: Dbs) {
    this.read = new AuthReader(() => dbs);
  }

  private bump(): number {
    const revision = this.read.revision + 1;
    this.dbs.auth.putSync(K_REVISION, u64Bytes(revision));
    return revision;
  }

  private putUser(u: AuthUser): void {
    this.dbs.auth.putSync(nameKey(USER, u.name), encodeUser(u));
  }

  private putRole(name: string, permissions: readonly Permission[]): void {
    this.dbs.auth.putSync(nameKey(ROLE, name), encodeRole(permissions));
  }

  private mustUser(name: string): AuthUser {
    return this.read.user(name) ?? fail(E.userNotFound);
  }

  private mustRole(name: string): AuthRole {
    return this.read.role(name) ?? fail(E.roleNotFound);
  }

  apply(c: AuthCommand): void {
    switch (c.op) {
      case "authEnable":
        this.enable(c.secret);
        break;
      case "authDisable":
        this.disable();
        break;
      case "userAdd":
        this.addUser(c.user, c.passwordHash, c.noPassword);
        break;
      case "userDelete":
        this.deleteUser(c.user);
        break;
      case "userChangePassword":
        this.changePassword(c.user, c.passwordHash);
        break;
      case "userGrantRole":
        this.grantRole(c.user, c.role);
        break;
      case "userRevokeRole":
        this.revokeRole(c.user, c.role);
        break;
      case "roleAdd":
        this.addRole(c.role);
        break;
      case "roleDelete":
        this.deleteRole(c.role);
        break;
      case "roleGrantPermission":
        this.grantPermission(c.role, c.permission);
        break;
      case "roleRevokePermission":
        this.revokePermission(c.role, c.key, c.rangeEnd);
        break;
    }
  }

  private addUser(name: string, hash: Uint8Array, noPassword: boolean): void {
    if (name.length === 0) fail(E.userEmpty);
    if (this.read.user(name) !== undefined) fail(E.userAlreadyExist);
    const tokenRevision = this.bump();
    const passwordHash = noPassword ? new Uint8Array(0) : hash;
    this.putUser({ name, roles: [], noPassword, passwordHash, tokenRevision });
  }

  private deleteUser(name: string): void {
    if (this.read.enabled && name === ROOT) fail(E.invalidAuthMgmt);
    this.mustUser(name);
    this.dbs.auth.removeSync(nameKey(USER, name));
    this.bump();
  }

  private changePassword(name: string, hash: Uint8Array): void {
    const user = this.mustUser(name);
    // As etcd: a user added without a password keeps having none.
    const passwordHash = user.noPassword ? user.passwordHash : hash;
    this.putUser({ ...user, passwordHash, tokenRevision: this.bump() });
  }

  private addRole(name: string): void {
    if (name.length === 0) fail(E.roleEmpty);
    if (this.read.role(name) !== undefined) fail(E.roleAlreadyExist);
    this.putRole(name, []);
    this.bump();
  }

  private revokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): void {
    const role = this.mustRole(name);
    const kept = role.permissions.filter(
      (p) => !bytesEqual(p.key, key) || !bytesEqual(p.rangeEnd, rangeEnd),
    );
    if (kept.length === role.permissions.length) fail(E.permissionNotGranted);
    this.putRole(name, kept);
    this.bump();
  }

  private enable(secret: Uint8Array): void {
    // Enabling twice is a no-op (etcd ignores it), and keeps the tokens already issued.
    if (this.read.enabled) return;
    const root = this.read.user(ROOT) ?? fail(E.rootUserNotExist);
    if (!root.roles.includes(ROOT)) fail(E.rootRoleNotExist);
    this.dbs.auth.putSync(K_ENABLED, Uint8Array.of(1));
    this.dbs.auth.putSync(K_SECRET, secret);
    this.bump();
  }

  private disable(): void {
    if (!this.read.enabled) return;
    this.dbs.auth.removeSync(K_ENABLED);
    // Every token dies with the secret; a later enable chooses a new one.
    this.dbs.auth.removeSync(K_SECRET);
    this.bump();
  }

  private grantRole(name: string, role: string): void {
    const user = this.mustUser(name);
    // The root role needs no role record (etcd grants it regardless).
    if (role !== ROOT) this.mustRole(role);
    if (user.roles.includes(role)) return;
    this.putUser({ ...user, roles: [...user.roles, role].sort(byUtf8) });
    this.bump();
  }

  private revokeRole(name: string, role: string): void {
    if (this.read.enabled && name === ROOT && role === ROOT) fail(E.invalidAuthMgmt);
    const user = this.mustUser(name);
    if (!user.roles.includes(role)) fail(E.roleNotGranted);
    this.putUser({ ...user, roles: user.roles.filter((r) => r !== role) });
    this.bump();
  }

  private deleteRole(name: string): void {
    if (this.read.enabled && name === ROOT) fail(E.invalidAuthMgmt);
    this.mustRole(name);
    this.dbs.auth.removeSync(nameKey(ROLE, name));
    // Users lose the role in the same command, so no dangling grant survives (as etcd).
    for (const userName of this.read.userNames()) {
      const user = this.read.user(userName)!;
      if (user.roles.includes(name)) {
        this.putUser({ ...user, roles: user.roles.filter((r) => r !== name) });
      }
    }
    this.bump();
  }

  private grantPermission(name: string, permission: Permission): void {
    const role = this.mustRole(name);
    const same = role.permissions.find(
      (p) => bytesEqual(p.key, permission.key) && bytesEqual(p.rangeEnd, permission.rangeEnd),
    );
    let permissions: Permission[];
    if (same !== undefined) {
      permissions = role.permissions.map((p) => (p === same ? { ...p, type: permission.type } : p));
    } else {
      permissions = [...role.permissions, permission].sort((a, b) => compareBytes(a.key, b.key));
    }
    this.putRole(name, permissions);
    this.bump();
  }
}
