file(REMOVE_RECURSE
  "libaetherflow_web.a"
)
