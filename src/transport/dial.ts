import net from "node:net";
import tls from "node:tls";
import type { TlsMaterial } from "./certs.ts";
import type { PeerAddress } from "./types.ts";
import { parsePeerUrl } from "./url.ts";

export interface Dialled {
  socket: net.Socket;
  /** The event after which the socket may carry frames. */
  readyEvent: "connect" | "secureConnect";
}

/** Opens a connection to `peer`: TLS 1.3 with our certificate when `material` is given. */
export function dialPeer(peer: PeerAddress, material: TlsMaterial | null): Dialled {
  const { host, port } = parsePeerUrl(peer.url);
  if (material === null) return { socket: net.connect({ host, port }), readyEvent: "connect" };
  const expected = peer.name;
  const socket = tls.connect({
    host,
    port,
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    minVersion: "TLSv1.3",
    // The CA signs every member, so a valid chain alone does not say which member answered
    // the url; the CN does.
    // An added member not yet named (etcd's MemberAdd carries only peer URLs) may answer with
    // any certificate of the cluster's CA until it publishes its name through the log.
    checkServerIdentity: (_host, cert) =>
      cert.subject?.CN === expected || expected === ""
        ? undefined
        : new Error(`server certificate is for "${cert.subject?.CN}", expected "${expected}"`),
  });
  return { socket, readyEvent: "secureConnect" };
}
