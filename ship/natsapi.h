#ifndef DNNPROV_SHIP_NATSAPI_H
#define DNNPROV_SHIP_NATSAPI_H

/*
 * natsapi.h - the libnats functions the shipper and the stream indexer call,
 * bound when one of them first connects (dp_nats_bind), so that the other
 * commands do not load libnats, OpenSSL and protobuf-c at their start
 * (util/dynlib.c says what that cost).  Every file of ship/ includes this
 * header (through conn.h) and calls the functions by their own names.
 */
#include <nats/nats.h>

#include "util/util.h"

#define DP_NATS_FUNCTIONS(X) \
	X(jsConsumerConfig_Init) \
	X(jsConsumerInfo_Destroy) \
	X(jsCtx_Destroy) \
	X(jsMsgMetaData_Destroy) \
	X(jsOptions_Init) \
	X(jsPubAck_Destroy) \
	X(jsPubOptions_Init) \
	X(jsStreamConfig_Init) \
	X(jsStreamInfo_Destroy) \
	X(jsSubOptions_Init) \
	X(js_AddConsumer) \
	X(js_AddStream) \
	X(js_DeleteConsumer) \
	X(js_GetConsumerInfo) \
	X(js_GetStreamInfo) \
	X(js_PublishAsyncComplete) \
	X(js_PublishMsg) \
	X(js_PublishMsgAsync) \
	X(js_PullSubscribe) \
	X(natsConnection_Close) \
	X(natsConnection_Connect) \
	X(natsConnection_Destroy) \
	X(natsConnection_GetConnectedUrl) \
	X(natsConnection_GetMaxPayload) \
	X(natsConnection_GetServers) \
	X(natsConnection_JetStream) \
	X(natsMsgHeader_Get) \
	X(natsMsgHeader_Set) \
	X(natsMsgHeader_Values) \
	X(natsMsgList_Destroy) \
	X(natsMsg_Ack) \
	X(natsMsg_Create) \
	X(natsMsg_Destroy) \
	X(natsMsg_GetData) \
	X(natsMsg_GetDataLength) \
	X(natsMsg_GetMetaData) \
	X(natsMsg_GetSubject) \
	X(natsMsg_NakWithDelay) \
	X(natsOptions_Create) \
	X(natsOptions_Destroy) \
	X(natsOptions_SetClosedCB) \
	X(natsOptions_SetDisconnectedCB) \
	X(natsOptions_SetMaxPingsOut) \
	X(natsOptions_SetMaxReconnect) \
	X(natsOptions_SetPingInterval) \
	X(natsOptions_SetReconnectWait) \
	X(natsOptions_SetReconnectedCB) \
	X(natsOptions_SetServers) \
	X(natsOptions_SetTimeout) \
	X(natsOptions_SetUserCredentialsFromFiles) \
	X(natsOptions_SetUserInfo) \
	X(natsStatus_GetText) \
	X(natsSubscription_Destroy) \
	X(natsSubscription_Fetch) \
	X(nats_GetLastError)

#define DP_NATS_MEMBER(name) __typeof__(name) *p_##name;
struct dp_nats_api {
	DP_NATS_FUNCTIONS(DP_NATS_MEMBER)
};
#undef DP_NATS_MEMBER

DP_INTERNAL extern struct dp_nats_api dp_nats;

/* Binds every function once per process: 0, or DNNPROV_EIO naming the library. */
DP_INTERNAL int dp_nats_bind(void);

#ifndef DP_NATS_NO_MACROS
#define jsConsumerConfig_Init (*dp_nats.p_jsConsumerConfig_Init)
#define jsConsumerInfo_Destroy (*dp_nats.p_jsConsumerInfo_Destroy)
#define jsCtx_Destroy (*dp_nats.p_jsCtx_Destroy)
#define jsMsgMetaData_Destroy (*dp_nats.p_jsMsgMetaData_Destroy)
#define jsOptions_Init (*dp_nats.p_jsOptions_Init)
#define jsPubAck_Destroy (*dp_nats.p_jsPubAck_Destroy)
#define jsPubOptions_Init (*dp_nats.p_jsPubOptions_Init)
#define jsStreamConfig_Init (*dp_nats.p_jsStreamConfig_Init)
#define jsStreamInfo_Destroy (*dp_nats.p_jsStreamInfo_Destroy)
#define jsSubOptions_Init (*dp_nats.p_jsSubOptions_Init)
#define js_AddConsumer (*dp_nats.p_js_AddConsumer)
#define js_AddStream (*dp_nats.p_js_AddStream)
#define js_DeleteConsumer (*dp_nats.p_js_DeleteConsumer)
#define js_GetConsumerInfo (*dp_nats.p_js_GetConsumerInfo)
#define js_GetStreamInfo (*dp_nats.p_js_GetStreamInfo)
#define js_PublishAsyncComplete (*dp_nats.p_js_PublishAsyncComplete)
#define js_PublishMsg (*dp_nats.p_js_PublishMsg)
#define js_PublishMsgAsync (*dp_nats.p_js_PublishMsgAsync)
#define js_PullSubscribe (*dp_nats.p_js_PullSubscribe)
#define natsConnection_Close (*dp_nats.p_natsConnection_Close)
#define natsConnection_Connect (*dp_nats.p_natsConnection_Connect)
#define natsConnection_Destroy (*dp_nats.p_natsConnection_Destroy)
#define natsConnection_GetConnectedUrl (*dp_nats.p_natsConnection_GetConnectedUrl)
#define natsConnection_GetMaxPayload (*dp_nats.p_natsConnection_GetMaxPayload)
#define natsConnection_GetServers (*dp_nats.p_natsConnection_GetServers)
#define natsConnection_JetStream (*dp_nats.p_natsConnection_JetStream)
#define natsMsgHeader_Get (*dp_nats.p_natsMsgHeader_Get)
#define natsMsgHeader_Set (*dp_nats.p_natsMsgHeader_Set)
#define natsMsgHeader_Values (*dp_nats.p_natsMsgHeader_Values)
#define natsMsgList_Destroy (*dp_nats.p_natsMsgList_Destroy)
#define natsMsg_Ack (*dp_nats.p_natsMsg_Ack)
#define natsMsg_Create (*dp_nats.p_natsMsg_Create)
#define natsMsg_Destroy (*dp_nats.p_natsMsg_Destroy)
#define natsMsg_GetData (*dp_nats.p_natsMsg_GetData)
#define natsMsg_GetDataLength (*dp_nats.p_natsMsg_GetDataLength)
#define natsMsg_GetMetaData (*dp_nats.p_natsMsg_GetMetaData)
#define natsMsg_GetSubject (*dp_nats.p_natsMsg_GetSubject)
#define natsMsg_NakWithDelay (*dp_nats.p_natsMsg_NakWithDelay)
#define natsOptions_Create (*dp_nats.p_natsOptions_Create)
#define natsOptions_Destroy (*dp_nats.p_natsOptions_Destroy)
#define natsOptions_SetClosedCB (*dp_nats.p_natsOptions_SetClosedCB)
#define natsOptions_SetDisconnectedCB (*dp_nats.p_natsOptions_SetDisconnectedCB)
#define natsOptions_SetMaxPingsOut (*dp_nats.p_natsOptions_SetMaxPingsOut)
#define natsOptions_SetMaxReconnect (*dp_nats.p_natsOptions_SetMaxReconnect)
#define natsOptions_SetPingInterval (*dp_nats.p_natsOptions_SetPingInterval)
#define natsOptions_SetReconnectWait (*dp_nats.p_natsOptions_SetReconnectWait)
#define natsOptions_SetReconnectedCB (*dp_nats.p_natsOptions_SetReconnectedCB)
#define natsOptions_SetServers (*dp_nats.p_natsOptions_SetServers)
#define natsOptions_SetTimeout (*dp_nats.p_natsOptions_SetTimeout)
#define natsOptions_SetUserCredentialsFromFiles (*dp_nats.p_natsOptions_SetUserCredentialsFromFiles)
#define natsOptions_SetUserInfo (*dp_nats.p_natsOptions_SetUserInfo)
#define natsStatus_GetText (*dp_nats.p_natsStatus_GetText)
#define natsSubscription_Destroy (*dp_nats.p_natsSubscription_Destroy)
#define natsSubscription_Fetch (*dp_nats.p_natsSubscription_Fetch)
#define nats_GetLastError (*dp_nats.p_nats_GetLastError)
#endif

#endif
