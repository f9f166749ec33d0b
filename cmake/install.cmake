# cmake --install: headers, the static libraries and a CMake package, so that
# another project can say find_package(isolated CONFIG) and link
# isolated::isolated (a host), isolated::worker (a worker binary),
# isolated::testing (crash-isolation tests) or isolated::catch2_main.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS isolated_common isolated_worker isolated_isolated isolated_testing
  EXPORT isolatedTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Only the public headers: the transport internals under */src stay private.
install(DIRECTORY common/include/ worker/include/ isolated/include/ testing/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/isolated)
install(EXPORT isolatedTargets NAMESPACE isolated:: DESTINATION ${_package_dir})
# isolated::catch2_main needs Catch2: a file of its own, which the package
# reads only where Catch2 is found, so that the rest needs no Catch2.
if(TARGET isolated_catch2_main)
  install(TARGETS isolated_catch2_main EXPORT isolatedCatch2Targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT isolatedCatch2Targets NAMESPACE isolated:: DESTINATION ${_package_dir})
endif()
configure_package_config_file(cmake/isolatedConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfig.cmake INSTALL_DESTINATION ${_package_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/isolatedConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/isolatedConfigVersion.cmake
  DESTINATION ${_package_dir})
