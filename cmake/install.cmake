# cmake --install: headers, the three static libraries and a CMake package, so
# that another project can say find_package(isolated CONFIG) and link
# isolated::isolated (a host) or isolated::worker (a worker binary).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS isolated_common isolated_worker isolated_isolated
  EXPORT isolatedTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Only the public headers: the transport internals under */src stay private.
install(DIRECTORY common/include/ worker/include/ isolated/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/isolated)
install(EXPORT isolatedTargets NAMESPACE isolated:: DESTINATION ${_package_dir})
configure_package_config_file(cmake/isolatedConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfig.cmake INSTALL_DESTINATION ${_package_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/isolatedConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfigVersion.cmake
  DESTINATION ${_package_dir})
