// The public surface of the peer transport. Other folders import from here only.
//
// Wire format (one TCP or TLS 1.3 connection per direction and peer pair; the dialling member
// sends, the accepting member delivers):
//   frame := u32 length (big-endian, counts kind + payload, at most 64 MiB), u8 kind, payload
//   1 hello          c→s  "QMSH", u16 version, bytes clusterId, varint sender id, bytes name
//   2 error          s→c  utf8 reason; the server closes after it
//   3 messages       c→s  raft_codec batch
//   4 ping / 5 pong  c→s / s→c  f64 performance.now() of the sender, echoed
//   6 snapshot-begin c→s  varint transfer id, varint size, varint checksum, batch of one message
//   7 snapshot-chunk c→s  varint transfer id, file bytes (256 KiB)
//   8 snapshot-end   c→s  varint transfer id
//   9 snapshot-ack / 10 snapshot-nack  s→c  varint transfer id [, utf8 reason]
//   11 snapshot-abort c→s varint transfer id
//   12 query         c→s  varint query id, request bytes (for the member layer, e.g. a hash)
//   13 query-reply   s→c  varint query id, u8 0 = answer | 1 = utf8 error, bytes

export {
  createClusterCertificates,
  loadTlsMaterial,
  MEMBER_NAME,
  type TlsMaterial,
} from "./certs.ts";
export {
  FrameDecodeError,
  PeerNotConnectedError,
  QueryError,
  SnapshotSendError,
  TransportListenError,
} from "./errors.ts";
export { PROTOCOL_VERSION } from "./frames.ts";
export { decodeMessages, encodeMessages } from "./raft_codec.ts";
export { Transport } from "./transport.ts";
export type {
  FaultHook,
  PeerAddress,
  PeerStats,
  SnapshotSink,
  TransportLogger,
  TransportOptions,
} from "./types.ts";
export { parsePeerUrl } from "./url.ts";
