file(REMOVE_RECURSE
  "libaetherflow_client.a"
)
