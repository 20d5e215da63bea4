file(REMOVE_RECURSE
  "libaetherflow_daemon.a"
)
