// The client-facing API of a member.
export { ApiError } from "./common.ts";
export { startClientServer } from "./gateway.ts";
