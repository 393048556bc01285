// etcd's client-visible errors: the gRPC status code and the exact message etcd returns, since
// etcd clients (clientv3, etcdctl, etcd3 on npm) match on the message text. Codes and texts are
// facts from etcd's api/v3rpc/rpctypes/error.go.
import { status as Status } from "@grpc/grpc-js";

/** An error with the gRPC status it must reach the client as. */
export class RpcError extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

const e = (code: Status, message: string) => new RpcError(code, message);
const {
  INVALID_ARGUMENT: InvalidArgument,
  OUT_OF_RANGE: OutOfRange,
  RESOURCE_EXHAUSTED: ResourceExhausted,
  NOT_FOUND: NotFound,
  FAILED_PRECONDITION: FailedPrecondition,
  UNAVAILABLE: Unavailable,
  PERMISSION_DENIED: PermissionDenied,
  UNAUTHENTICATED: Unauthenticated,
  DATA_LOSS: DataLoss,
  CANCELLED: Canceled,
} = Status;

/** Shared, immutable instances: throw them as they are. */
export const EtcdErrors = {
  emptyKey: e(InvalidArgument, "etcdserver: key is not provided"),
  keyNotFound: e(InvalidArgument, "etcdserver: key not found"),
  valueProvided: e(InvalidArgument, "etcdserver: value is provided"),
  leaseProvided: e(InvalidArgument, "etcdserver: lease is provided"),
  tooManyOps: e(InvalidArgument, "etcdserver: too many operations in txn request"),
  duplicateKey: e(InvalidArgument, "etcdserver: duplicate key given in txn request"),
  invalidSortOption: e(InvalidArgument, "etcdserver: invalid sort option"),
  compacted: e(OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
  futureRev: e(OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
  noSpace: e(ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
  leaseNotFound: e(NotFound, "etcdserver: requested lease not found"),
  leaseExist: e(FailedPrecondition, "etcdserver: lease already exists"),
  leaseTtlTooLarge: e(OutOfRange, "etcdserver: too large lease TTL"),
  watchCanceled: e(Canceled, "etcdserver: watch canceled"),
  memberExist: e(FailedPrecondition, "etcdserver: member ID already exist"),
  peerUrlExist: e(FailedPrecondition, "etcdserver: Peer URLs already exists"),
  memberNotEnoughStarted: e(
    FailedPrecondition,
    "etcdserver: re-configuration failed due to not enough started members",
  ),
  memberBadUrls: e(InvalidArgument, "etcdserver: given member URLs are invalid"),
  memberNotFound: e(NotFound, "etcdserver: member not found"),
  memberNotLearner: e(FailedPrecondition, "etcdserver: can only promote a learner member"),
  learnerNotReady: e(
    FailedPrecondition,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ),
  tooManyLearners: e(FailedPrecondition, "etcdserver: too many learner members in cluster"),
  requestTooLarge: e(InvalidArgument, "etcdserver: request is too large"),
  tooManyRequests: e(ResourceExhausted, "etcdserver: too many requests"),
  rootUserNotExist: e(FailedPrecondition, "etcdserver: root user does not exist"),
  rootRoleNotExist: e(FailedPrecondition, "etcdserver: root user does not have root role"),
  userAlreadyExist: e(FailedPrecondition, "etcdserver: user name already exists"),
  userEmpty: e(InvalidArgument, "etcdserver: user name is empty"),
  userNotFound: e(FailedPrecondition, "etcdserver: user name not found"),
  roleAlreadyExist: e(FailedPrecondition, "etcdserver: role name already exists"),
  roleNotFound: e(FailedPrecondition, "etcdserver: role name not found"),
  roleEmpty: e(InvalidArgument, "etcdserver: role name is empty"),
  authFailed: e(InvalidArgument, "etcdserver: authentication failed, invalid user ID or password"),
  permissionNotGiven: e(InvalidArgument, "etcdserver: permission not given"),
  permissionDenied: e(PermissionDenied, "etcdserver: permission denied"),
  roleNotGranted: e(FailedPrecondition, "etcdserver: role is not granted to the user"),
  permissionNotGranted: e(FailedPrecondition, "etcdserver: permission is not granted to the role"),
  authNotEnabled: e(FailedPrecondition, "etcdserver: authentication is not enabled"),
  invalidAuthToken: e(Unauthenticated, "etcdserver: invalid auth token"),
  invalidAuthMgmt: e(InvalidArgument, "etcdserver: invalid auth management"),
  authOldRevision: e(InvalidArgument, "etcdserver: revision of auth store is old"),
  noLeader: e(Unavailable, "etcdserver: no leader"),
  notLeader: e(FailedPrecondition, "etcdserver: not leader"),
  leaderChanged: e(Unavailable, "etcdserver: leader changed"),
  notCapable: e(FailedPrecondition, "etcdserver: not capable"),
  stopped: e(Unavailable, "etcdserver: server stopped"),
  timeout: e(Unavailable, "etcdserver: request timed out"),
  unhealthy: e(Unavailable, "etcdserver: unhealthy cluster"),
  corrupt: e(DataLoss, "etcdserver: corrupt cluster"),
  notSupportedForLearner: e(FailedPrecondition, "etcdserver: rpc not supported for learner"),
  badLeaderTransferee: e(FailedPrecondition, "etcdserver: bad leader transferee"),
} as const;
