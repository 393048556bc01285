export { Inflights } from "./inflights.ts";
export type { ProgressInit, ProgressState } from "./progress.ts";
export { Progress } from "./progress.ts";
export type { ProgressMap, TrackerConfig } from "./tracker.ts";
export {
  EMPTY_TRACKER_CONFIG,
  formatTrackerConfig,
  ProgressTracker,
  sortedIds,
} from "./tracker.ts";
