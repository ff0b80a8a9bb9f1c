/*
 * nats_tool.c - what the shipping tests ask of a NATS server besides
 * dnnprov: whether JetStream is ready, a stream's settings, streams made
 * by hand (an incompatible one), and messages of another producer.
 *
 * usage: nats_tool wait URLS [STREAM]              until JetStream answers (30 s at most);
 *                                                  given STREAM, until it has a leader and
 *                                                  every replica is current (a restarted
 *                                                  server caught up), if the stream exists
 *        nats_tool stream URLS NAME                prints "replicas=N storage=file|memory"
 *        nats_tool add-stream URLS NAME SUBJECT memory|file
 *        nats_tool del-stream URLS NAME            (no error when there is none)
 *        nats_tool pub URLS SUBJECT BODY [KEY=VALUE...]  through JetStream, acknowledged;
 *                                                  prints the stream sequence.  BODY @FILE:
 *                                                  the file's bytes.  A KEY given twice has
 *                                                  two values.
 *        nats_tool last URLS STREAM SUBJECT        the stream's last message on SUBJECT:
 *                                                  its Dnnprov-Event header, a tab, its body
 */
#include <nats/nats.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static natsConnection *nc;
static jsCtx *js;

static int fail(const char *what, natsStatus s)
{
	fprintf(stderr, "nats_tool: %s: %s %s\n", what, natsStatus_GetText(s), nats_GetLastError(NULL));
	return 1;
}

static natsStatus connect_to(const char *urls)
{
	natsOptions *o;
	char copy[4096], *servers[16], *save = NULL;
	int n = 0;
	snprintf(copy, sizeof(copy), "%s", urls);
	for (char *t = strtok_r(copy, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
		servers[n++] = t;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)servers, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 1000);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, o);
	natsOptions_Destroy(o);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	return s;
}

/* Whether STREAM answers with a leader and every replica current; a
 * stream not made yet is ready (the first publisher makes it). */
static bool stream_settled(const char *stream, natsStatus *s)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	*s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	if (*s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
		return *s = NATS_OK, true;
	if (*s != NATS_OK)
		return false;
	bool settled = !si->Cluster || (si->Cluster->Leader && si->Cluster->Leader[0]);
	for (int i = 0; settled && si->Cluster && i < si->Cluster->ReplicasLen; i++)
		settled = si->Cluster->Replicas[i]->Current && !si->Cluster->Replicas[i]->Offline;
	jsStreamInfo_Destroy(si);
	if (!settled)
		*s = NATS_NOT_YET_CONNECTED;
	return settled;
}

static int wait_ready(const char *urls, const char *stream)
{
	natsStatus s = NATS_ERR;
	for (int i = 0; i < 150; i++) {
		jsAccountInfo *ai = NULL;
		if (!nc && connect_to(urls) != NATS_OK) {
			if (nc)
				natsConnection_Destroy(nc);
			nc = NULL;
		} else if ((s = js_GetAccountInfo(&ai, js, NULL, NULL)) == NATS_OK) {
			jsAccountInfo_Destroy(ai);
			if (!stream || stream_settled(stream, &s))
				return 0;
		}
		nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
	}
	return fail(stream ? "JetStream or its stream not ready" : "JetStream not ready", s);
}

int main(int argc, char **argv)
{
	natsStatus s;
	jsErrCode jerr = 0;
	if (argc < 3) {
		fprintf(stderr, "usage: nats_tool wait|stream|add-stream|del-stream|pub URLS ...\n");
		return 2;
	}
	if (strcmp(argv[1], "wait") == 0)
		return wait_ready(argv[2], argc > 3 ? argv[3] : NULL);
	if ((s = connect_to(argv[2])) != NATS_OK)
		return fail("connect", s);
	if (strcmp(argv[1], "stream") == 0 && argc == 4) {
		jsStreamInfo *si = NULL;
		if ((s = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK)
			return fail(argv[3], s);
		printf("replicas=%lld storage=%s messages=%llu\n", (long long)si->Config->Replicas,
		       si->Config->Storage == js_FileStorage ? "file" : "memory", (unsigned long long)si->State.Msgs);
		jsStreamInfo_Destroy(si);
	} else if (strcmp(argv[1], "add-stream") == 0 && argc == 6) {
		jsStreamConfig cfg;
		jsStreamInfo *si = NULL;
		const char *subjects[] = { argv[4] };
		jsStreamConfig_Init(&cfg);
		cfg.Name = argv[3];
		cfg.Subjects = subjects;
		cfg.SubjectsLen = 1;
		cfg.Storage = strcmp(argv[5], "memory") == 0 ? js_MemoryStorage : js_FileStorage;
		if ((s = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK)
			return fail(argv[3], s);
		jsStreamInfo_Destroy(si);
	} else if (strcmp(argv[1], "del-stream") == 0 && argc == 4) {
		s = js_DeleteStream(js, argv[3], NULL, &jerr);
		if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
			return fail(argv[3], s);
	} else if (strcmp(argv[1], "pub") == 0 && argc >= 5) {
		natsMsg *m = NULL;
		jsPubAck *pa = NULL;
		static char body[8 << 20];
		size_t n = strlen(argv[4]);
		if (argv[4][0] == '@') {
			FILE *f = fopen(argv[4] + 1, "rb");
			if (!f)
				return fail(argv[4] + 1, NATS_NOT_FOUND);
			n = fread(body, 1, sizeof(body), f);
			fclose(f);
		} else {
			memcpy(body, argv[4], n);
		}
		s = natsMsg_Create(&m, argv[3], NULL, body, (int)n);
		for (int i = 5; s == NATS_OK && i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			if (!eq)
				return fail("KEY=VALUE", NATS_INVALID_ARG);
			*eq = '\0';
			s = natsMsgHeader_Add(m, argv[i], eq + 1);
		}
		if (s == NATS_OK)
			s = js_PublishMsg(&pa, js, m, NULL, &jerr);
		natsMsg_Destroy(m);
		if (s != NATS_OK)
			return fail("publish", s);
		printf("%llu\n", (unsigned long long)pa->Sequence);
		jsPubAck_Destroy(pa);
	} else if (strcmp(argv[1], "last") == 0 && argc == 5) {
		natsMsg *m = NULL;
		const char *ev = NULL;
		if ((s = js_GetLastMsg(&m, js, argv[3], argv[4], NULL, &jerr)) != NATS_OK)
			return fail(argv[4], s);
		natsMsgHeader_Get(m, "Dnnprov-Event", &ev);
		printf("%s\t%.*s\n", ev ? ev : "", natsMsg_GetDataLength(m), natsMsg_GetData(m));
		natsMsg_Destroy(m);
	} else {
		fprintf(stderr, "nats_tool: unknown command or arguments\n");
		return 2;
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return 0;
}
