file(REMOVE_RECURSE
  "CMakeFiles/aetherflow_proto.dir/aetherflow/v1/aetherflow.grpc.pb.cc.o"
  "CMakeFiles/aetherflow_proto.dir/aetherflow/v1/aetherflow.grpc.pb.cc.o.d"
  "CMakeFiles/aetherflow_proto.dir/aetherflow/v1/aetherflow.pb.cc.o"
  "CMakeFiles/aetherflow_proto.dir/aetherflow/v1/aetherflow.pb.cc.o.d"
  "aetherflow/v1/aetherflow.grpc.pb.cc"
  "aetherflow/v1/aetherflow.grpc.pb.h"
  "aetherflow/v1/aetherflow.pb.cc"
  "aetherflow/v1/aetherflow.pb.h"
  "libaetherflow_proto.a"
  "libaetherflow_proto.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/aetherflow_proto.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
