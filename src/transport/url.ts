import type { PeerAddress } from "./types.ts";

export interface Endpoint {
  secure: boolean;
  host: string;
  port: number;
}

/** Parses a peer url; only https:// (TLS) and http:// (plain TCP) with an explicit port. */
export function parsePeerUrl(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`peer url "${url}" is not a url (expected https://host:port)`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new TypeError(`peer url "${url}" must start with https:// or http://`);
  }
  // URL drops default ports (443/80); a peer url without one is almost certainly a mistake.
  const port = parsed.port === "" ? Number.NaN : Number(parsed.port);
  if (!Number.isInteger(port)) throw new TypeError(`peer url "${url}" needs an explicit port`);
  // IPv6 hosts come back bracketed ("[::1]"), which net.connect does not accept.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return { secure: parsed.protocol === "https:", host, port };
}

export function describePeer(peer: PeerAddress): string {
  return `${peer.name} (id ${peer.id}, ${peer.url})`;
}
