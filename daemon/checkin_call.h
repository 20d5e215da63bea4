// The CheckIn RPC (SPEC §6): a long poll serviced on the pump thread. It
// reads what is new since the caller's cursor — events from SQLite, log
// bytes from each step's log from the cursor's offsets — analyses it with
// common/log_analysis, and answers when the next check-in is due or at
// once on a decisive event, never later than the caller's wait.
#ifndef AETHERFLOW_DAEMON_CHECKIN_CALL_H_
#define AETHERFLOW_DAEMON_CHECKIN_CALL_H_

#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace aetherflow {

class Engine;
class EventHub;
class Pump;
class StateStore;

// Starts a check-in; the returned reactor finishes the call.
grpc::ServerUnaryReactor* StartCheckIn(grpc::CallbackServerContext* context,
                                       const ::aetherflow::v1::CheckInRequest* request,
                                       ::aetherflow::v1::CheckInResponse* response,
                                       StateStore* store, Engine* engine,
                                       EventHub* hub, Pump* pump);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_CHECKIN_CALL_H_
