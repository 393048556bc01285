// Opening a member's state: the WAL is replayed into the in-memory log the core reads, the kv
// store says how far it has applied, and a brand-new member writes its bootstrap entries first.
import type { MvccStore } from "../kv/index.ts";
import { MvccStore as Store } from "../kv/index.ts";
import { MemoryStorage, type NodeId } from "../raft/index.ts";
import { SnapshotFiles, Wal, type WalRecovery } from "../storage/index.ts";
import { ContractGuard } from "./contract_guard.ts";
import { DataDirError, type DataDirLayout } from "./data_dir.ts";

export interface OpenedState {
  readonly wal: Wal;
  readonly kv: MvccStore;
  readonly snapshots: SnapshotFiles;
  readonly storage: MemoryStorage;
  /** The index the core resumes applying after (the snapshot's; the store skips what it has). */
  readonly appliedIndex: number;
  readonly recovered: WalRecovery;
}

export interface BootLogger {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * `bootstrapVoters` is set for a member of a new cluster starting for the first time; a member
 * joining an existing cluster starts from an empty log and learns everything from the leader.
 */
export async function openState(
  layout: DataDirLayout,
  isNew: boolean,
  bootstrapVoters: readonly NodeId[] | null,
  logger: BootLogger,
): Promise<OpenedState> {
  const { wal, recovered } = await Wal.open(layout.wal, { logger });
  const snapshots = new SnapshotFiles(layout.snap, logger);
  // State lives in LMDB; a snapshot file left from a transfer cut short is of no further use.
  await snapshots.prune(0);
  const kv = Store.open(layout.kv, { guard: new ContractGuard() });
  try {
    let storage: MemoryStorage;
    // An empty WAL is a new member even when member.json exists: a crash between writing the
    // identity and syncing the bootstrap entries must not leave a member with no voters.
    const walEmpty =
      recovered.snapshot === null &&
      recovered.entries.length === 0 &&
      recovered.hardState.term === 0 &&
      recovered.hardState.commit === 0;
    if (isNew || walEmpty) {
      storage =
        bootstrapVoters === null
          ? new MemoryStorage()
          : new MemoryStorage({ voters: bootstrapVoters });
      const last = storage.lastIndex();
      const entries = last > 0 ? storage.entries(1, last + 1, Number.POSITIVE_INFINITY) : [];
      wal.append(entries, storage.initialState().hardState, null);
      await wal.sync();
    } else {
      storage = restoreLog(recovered);
    }
    const snapshotIndex = storage.snapshot().metadata.index;
    if (kv.appliedIndex < snapshotIndex) {
      throw new DataDirError(
        `${layout.kv} has applied up to index ${kv.appliedIndex} but the log was compacted to ` +
          `${snapshotIndex}: entries in between are gone; move the data directory away and ` +
          "re-add this member",
      );
    }
    logger.info(
      `recovered: log ${storage.firstIndex()}..${storage.lastIndex()}, ` +
        `commit ${storage.initialState().hardState.commit}, applied ${kv.appliedIndex}, ` +
        `snapshot ${snapshotIndex}`,
    );
    return { wal, kv, snapshots, storage, appliedIndex: snapshotIndex, recovered };
  } catch (error) {
    await wal.close();
    await kv.close();
    throw error;
  }
}

function restoreLog(recovered: WalRecovery): MemoryStorage {
  const storage = new MemoryStorage();
  if (recovered.snapshot !== null) {
    storage.applySnapshot({ metadata: recovered.snapshot, data: new Uint8Array(0) });
  }
  storage.append(recovered.entries);
  storage.setHardState(recovered.hardState);
  return storage;
}
