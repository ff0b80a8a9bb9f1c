#ifndef DNNPROV_SERVE_MHDAPI_H
#define DNNPROV_SERVE_MHDAPI_H

/*
 * mhdapi.h - the libmicrohttpd functions the server calls, bound when it
 * starts (dp_mhd_bind), so that the other commands do not load it and
 * GnuTLS at their start (util/dynlib.c says what that cost).  serve/ and
 * receive/ include this header and call the functions by their own names.
 */
#include <microhttpd.h>

#include "util/util.h"

#define DP_MHD_FUNCTIONS(X) \
	X(MHD_add_response_header) \
	X(MHD_basic_auth_get_username_password) \
	X(MHD_create_response_from_buffer) \
	X(MHD_create_response_from_callback) \
	X(MHD_destroy_response) \
	X(MHD_free) \
	X(MHD_get_connection_info) \
	X(MHD_get_connection_values_n) \
	X(MHD_get_daemon_info) \
	X(MHD_lookup_connection_value) \
	X(MHD_queue_response) \
	X(MHD_start_daemon) \
	X(MHD_stop_daemon)

#define DP_MHD_MEMBER(name) __typeof__(name) *p_##name;
struct dp_mhd_api {
	DP_MHD_FUNCTIONS(DP_MHD_MEMBER)
};
#undef DP_MHD_MEMBER

DP_INTERNAL extern struct dp_mhd_api dp_mhd;

/* Binds every function once per process: 0, or DNNPROV_EIO naming the library. */
DP_INTERNAL int dp_mhd_bind(void);

#ifndef DP_MHD_NO_MACROS
#define MHD_add_response_header (*dp_mhd.p_MHD_add_response_header)
#define MHD_basic_auth_get_username_password (*dp_mhd.p_MHD_basic_auth_get_username_password)
#define MHD_create_response_from_buffer (*dp_mhd.p_MHD_create_response_from_buffer)
#define MHD_create_response_from_callback (*dp_mhd.p_MHD_create_response_from_callback)
#define MHD_destroy_response (*dp_mhd.p_MHD_destroy_response)
#define MHD_free (*dp_mhd.p_MHD_free)
#define MHD_get_connection_info (*dp_mhd.p_MHD_get_connection_info)
#define MHD_get_connection_values_n (*dp_mhd.p_MHD_get_connection_values_n)
#define MHD_get_daemon_info (*dp_mhd.p_MHD_get_daemon_info)
#define MHD_lookup_connection_value (*dp_mhd.p_MHD_lookup_connection_value)
#define MHD_queue_response (*dp_mhd.p_MHD_queue_response)
#define MHD_start_daemon (*dp_mhd.p_MHD_start_daemon)
#define MHD_stop_daemon (*dp_mhd.p_MHD_stop_daemon)
#endif

#endif
