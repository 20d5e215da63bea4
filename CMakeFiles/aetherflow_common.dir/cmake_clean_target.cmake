file(REMOVE_RECURSE
  "libaetherflow_common.a"
)
