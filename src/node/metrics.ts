// Prometheus metrics of one member (prom-client): what an operator watches to see whether the
// member keeps up — proposals, commits, apply lag, WAL fsync latency, peers, leader changes.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class NodeMetrics {
  readonly registry = new Registry();
  readonly proposals = new Counter({
    name: "qmesh_proposals_total",
    help: "Proposals made by this member (client writes and internal ones)",
    registers: [this.registry],
  });
  readonly proposalsFailed = new Counter({
    name: "qmesh_proposals_failed_total",
    help: "Proposals that failed or timed out",
    registers: [this.registry],
  });
  readonly committedEntries = new Counter({
    name: "qmesh_committed_entries_total",
    help: "Log entries committed and handed to the state machine",
    registers: [this.registry],
  });
  readonly appliedIndex = new Gauge({
    name: "qmesh_applied_index",
    help: "Last log index applied to the state machine",
    registers: [this.registry],
  });
  readonly commitIndex = new Gauge({
    name: "qmesh_commit_index",
    help: "Last log index known committed",
    registers: [this.registry],
  });
  readonly applyLag = new Gauge({
    name: "qmesh_apply_lag_entries",
    help: "Committed entries not yet applied",
    registers: [this.registry],
  });
  readonly walFsyncSeconds = new Histogram({
    name: "qmesh_wal_fsync_duration_seconds",
    help: "Latency of WAL fdatasync calls (one per Ready batch)",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128],
    registers: [this.registry],
  });
  readonly walBatchEntries = new Histogram({
    name: "qmesh_wal_batch_entries",
    help: "Entries written per WAL sync (group commit size)",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly leaderChanges = new Counter({
    name: "qmesh_leader_changes_total",
    help: "Leader changes this member has seen",
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: "qmesh_is_leader",
    help: "1 if this member is the leader",
    registers: [this.registry],
  });
  readonly hasLeader = new Gauge({
    name: "qmesh_has_leader",
    help: "1 if this member knows a leader",
    registers: [this.registry],
  });
  readonly term = new Gauge({
    name: "qmesh_term",
    help: "Current Raft term",
    registers: [this.registry],
  });
  readonly peerRoundTripSeconds = new Gauge({
    name: "qmesh_peer_round_trip_seconds",
    help: "Last measured round trip to each peer",
    labelNames: ["peer"],
    registers: [this.registry],
  });
  readonly peerLagEntries = new Gauge({
    name: "qmesh_peer_lag_entries",
    help: "On the leader: entries each peer is behind the leader's last index",
    labelNames: ["peer"],
    registers: [this.registry],
  });
  readonly peerConnected = new Gauge({
    name: "qmesh_peer_connected",
    help: "1 if the connection to the peer is up",
    labelNames: ["peer"],
    registers: [this.registry],
  });
  readonly snapshotsCreated = new Counter({
    name: "qmesh_snapshots_created_total",
    help: "Local snapshots taken (log compactions)",
    registers: [this.registry],
  });
  readonly snapshotsSent = new Counter({
    name: "qmesh_snapshots_sent_total",
    help: "Snapshots streamed to lagging followers",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly snapshotsInstalled = new Counter({
    name: "qmesh_snapshots_installed_total",
    help: "Snapshots received from the leader and installed",
    registers: [this.registry],
  });
}
