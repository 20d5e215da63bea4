file(REMOVE_RECURSE
  "libaetherflow_proto.a"
)
