// The client-facing API of a member.

export type { ClientTls } from "./client_port.ts";
export { ApiError } from "./common.ts";
export { type ClientApi, startClientApi } from "./serve.ts";
