export type { JointVoters, VoteResult } from "./quorum.ts";
export {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from "./quorum.ts";
