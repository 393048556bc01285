export { decodeConfChange, encodeConfChange, enterJointOf, isLeaveJoint } from "./codec.ts";
export type { ConfigAndProgress } from "./confchange.ts";
export { ConfChangeError, ConfChanger, restoreConfState } from "./confchange.ts";
