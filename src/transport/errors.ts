/** A frame or a message batch that does not follow the wire format (truncated, oversized, unknown tags). */
export class FrameDecodeError extends Error {
  override readonly name = "FrameDecodeError";
}

/** The peer listener could not bind; the message tells the operator what to do. */
export class TransportListenError extends Error {
  override readonly name = "TransportListenError";
}

/** A snapshot could not be delivered: the peer was down, the connection dropped, or it refused the file. */
export class SnapshotSendError extends Error {
  override readonly name = "SnapshotSendError";
}

/** A query got no answer (peer down, connection lost, timeout) or the peer answered an error. */
export class QueryError extends Error {
  override readonly name: string = "QueryError";
}

/** The query was not sent: no connection to that peer (yet). */
export class PeerNotConnectedError extends QueryError {
  override readonly name = "PeerNotConnectedError";
}
