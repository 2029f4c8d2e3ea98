find_package(PkgConfig)

PKG_CHECK_MODULES(PC_GR_SEMDACOM gnuradio-semdacom)

FIND_PATH(
    GR_SEMDACOM_INCLUDE_DIRS
    NAMES gnuradio/semdacom/api.h
    HINTS $ENV{SEMDACOM_DIR}/include
        ${PC_SEMDACOM_INCLUDEDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/include
          /usr/local/include
          /usr/include
)

FIND_LIBRARY(
    GR_SEMDACOM_LIBRARIES
    NAMES gnuradio-semdacom
    HINTS $ENV{SEMDACOM_DIR}/lib
        ${PC_SEMDACOM_LIBDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/lib
          ${CMAKE_INSTALL_PREFIX}/lib64
          /usr/local/lib
          /usr/local/lib64
          /usr/lib
          /usr/lib64
          )

include("${CMAKE_CURRENT_LIST_DIR}/gnuradio-semdacomTarget.cmake")

INCLUDE(FindPackageHandleStandardArgs)
FIND_PACKAGE_HANDLE_STANDARD_ARGS(GR_SEMDACOM DEFAULT_MSG GR_SEMDACOM_LIBRARIES GR_SEMDACOM_INCLUDE_DIRS)
MARK_AS_ADVANCED(GR_SEMDACOM_LIBRARIES GR_SEMDACOM_INCLUDE_DIRS)
