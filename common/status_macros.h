// Status propagation macros. Abseil 20220623 ships no status_macros.h, so we
// define the two we need, in the spirit of absl's internal versions.
#ifndef AETHERFLOW_COMMON_STATUS_MACROS_H_
#define AETHERFLOW_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AF_CONCAT_INNER_(a, b) a##b
#define AF_CONCAT_(a, b) AF_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define AF_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status af_status_ = (expr);           \
    if (!af_status_.ok()) return af_status_;      \
  } while (0)

// `AF_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of an
// absl::StatusOr<T> or returns its status from the enclosing function.
#define AF_ASSIGN_OR_RETURN(lhs, rexpr) \
  AF_ASSIGN_OR_RETURN_IMPL_(AF_CONCAT_(af_statusor_, __LINE__), lhs, rexpr)

#define AF_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // AETHERFLOW_COMMON_STATUS_MACROS_H_
