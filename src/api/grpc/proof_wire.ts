// InclusionProofsResponse written straight to protobuf bytes. A reply of 100 proofs holds ~2,000
// byte fields, and proto-loader (fromObject, then a writer op per field) spends ~3× the CPU of
// this per proof (bench:ledger prints both). The message is small and fixed, so it is laid out
// by hand in one buffer; the test decodes it with the library's own decoder. Every other message
// still goes through the library.
import type * as grpc from "@grpc/grpc-js";
import type { Json } from "../json.ts";

/** A reply already in wire form: the service definition passes it through unchanged. */
export class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** The service definition, with `methods` accepting an EncodedMessage as their response. */
export function acceptingEncoded(
  service: grpc.ServiceDefinition,
  methods: readonly string[],
): grpc.ServiceDefinition {
  const wrapped: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...service };
  for (const name of methods) {
    const method = service[name];
    if (method === undefined) throw new Error(`no method ${name} in the service`);
    const serialize = method.responseSerialize;
    wrapped[name] = {
      ...method,
      responseSerialize: (value: unknown) =>
        value instanceof EncodedMessage ? value.bytes : serialize(value),
    };
  }
  return wrapped as grpc.ServiceDefinition;
}

const LENGTH_DELIMITED = 2;
const VARINT = 0;

function varintBytes(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

class Writer {
  readonly buffer: Buffer;
  at = 0;
  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }
  varint(value: number): void {
    // Values up to 2^53: division, since bit operations stop at 32 bits.
    while (value >= 0x80) {
      this.buffer[this.at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.at++] = value;
  }
  tag(field: number, wire: number): void {
    this.buffer[this.at++] = (field << 3) | wire;
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(data.length);
    this.buffer.set(data, this.at);
    this.at += data.length;
  }
  uint(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, VARINT);
    this.varint(value);
  }
}

const bytesField = (data: Uint8Array) => 1 + varintBytes(data.length) + data.length;
const uintField = (value: number) => (value === 0 ? 0 : 1 + varintBytes(value));

interface LeafProofJson {
  readonly leaf_index: string;
  readonly leaf: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

function leafProofBytes(proof: LeafProofJson): number {
  let size = uintField(Number(proof.leaf_index)) + bytesField(proof.leaf);
  for (const hash of proof.proof) size += bytesField(hash);
  return size;
}

/** InclusionProofsResponse from the JSON that `inclusionBatch` answers (header fields as strings). */
export function encodeInclusionProofs(response: Json): Buffer {
  const header = response.header as Record<string, string>;
  const headerFields = [header.cluster_id, header.member_id, header.revision, header.raft_term].map(
    (value) => Number(value ?? 0),
  );
  const headerSize = headerFields.reduce((sum, value) => sum + uintField(value), 0);
  const proofs = response.proofs as LeafProofJson[];
  const proofSizes = proofs.map(leafProofBytes);
  const treeSize = Number(response.tree_size);
  const root = response.root_hash as Uint8Array;
  let size = 1 + varintBytes(headerSize) + headerSize + uintField(treeSize) + bytesField(root);
  for (const proofSize of proofSizes) size += 1 + varintBytes(proofSize) + proofSize;
  const out = new Writer(size);
  out.tag(1, LENGTH_DELIMITED);
  out.varint(headerSize);
  headerFields.forEach((value, i) => {
    out.uint(i + 1, value);
  });
  out.uint(2, treeSize);
  out.bytes(3, root);
  proofs.forEach((proof, i) => {
    out.tag(4, LENGTH_DELIMITED);
    out.varint(proofSizes[i]!);
    out.uint(1, Number(proof.leaf_index));
    out.bytes(2, proof.leaf);
    for (const hash of proof.proof) out.bytes(3, hash);
  });
  if (out.at !== size) throw new Error(`encoded ${out.at} bytes, expected ${size}`);
  return out.buffer;
}
