/*
 * progress.c - the progress line of long commands (progress.h).
 *
 * The line is redrawn with a carriage return and padded with spaces over
 * the previous one, and cut to the terminal's width so that it never wraps
 * (a wrapped line cannot be redrawn in place): no escape sequences, so it
 * works on any terminal.  The rate and the time left are averages since the
 * start, which stay steady when batches come in bursts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"

struct cli_progress {
	const char *what, *unit;
	double start, next_draw, period;
	size_t shown; /* characters of the line on the screen; 0 when none */
};

/* The one being shown, for cli_progress_interrupt(). */
static cli_progress *active;

cli_progress *cli_progress_start(const char *what, const char *unit, bool quiet)
{
	cli_progress *p;
	const char *env = getenv("DNNPROV_PROGRESS_MS");
	if (quiet || !isatty(STDERR_FILENO) || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->what = what;
	p->unit = unit;
	p->period = (env && *env ? strtod(env, NULL) : 250) / 1000.0;
	p->start = dp_monotonic();
	p->next_draw = p->start + 2 * p->period; /* short work shows nothing */
	active = p;
	return p;
}

/* 1234567 as "1,234,567". */
static void put_count(dp_buf *b, uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	for (int i = 0; i < n; i++) {
		dp_buf_putc(b, digits[i]);
		if (i < n - 1 && (n - 1 - i) % 3 == 0)
			dp_buf_putc(b, ',');
	}
}

static void put_bytes(dp_buf *b, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;
	while (v >= 1024 && u + 1 < DP_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	dp_buf_printf(b, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void put_duration(dp_buf *b, double s)
{
	unsigned long t = (unsigned long)(s + 0.5);
	if (t < 60)
		dp_buf_printf(b, "%lu s", t);
	else if (t < 3600)
		dp_buf_printf(b, "%lu:%02lu", t / 60, t % 60);
	else
		dp_buf_printf(b, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
}

/* "indexing: 1,234,567 records, 120.0 MiB of 300.0 MiB (40%), 45.1 MiB/s,
 * 4 s left" with what is known. */
static void compose(const cli_progress *p, const dp_work *w, double elapsed, dp_buf *b)
{
	double done = -1; /* the share done, when a total is known */
	dp_buf_printf(b, "%s:", p->what);
	if (p->unit) {
		dp_buf_putc(b, ' ');
		put_count(b, w->items);
		dp_buf_printf(b, " %s", p->unit);
	}
	if (w->bytes_total) {
		done = (double)w->bytes / (double)w->bytes_total;
		dp_buf_printf(b, "%s", p->unit ? ", " : " ");
		put_bytes(b, (double)w->bytes);
		dp_buf_printf(b, " of ");
		put_bytes(b, (double)w->bytes_total);
		dp_buf_printf(b, " (%d%%)", (int)(done * 100));
	} else {
		if (w->items_total) {
			done = (double)w->items / (double)w->items_total;
			dp_buf_printf(b, "%s%d%%", p->unit ? ", " : " ", (int)(done * 100));
		}
		if (w->bytes) {
			dp_buf_printf(b, ", ");
			put_bytes(b, (double)w->bytes);
			dp_buf_printf(b, " written");
		}
	}
	if (w->bytes && elapsed > 0) {
		dp_buf_printf(b, ", ");
		put_bytes(b, (double)w->bytes / elapsed);
		dp_buf_printf(b, "/s");
	} else if (p->unit && w->items && elapsed > 0) {
		dp_buf_printf(b, ", ");
		put_count(b, (uint64_t)((double)w->items / elapsed));
		dp_buf_printf(b, " %s/s", p->unit);
	}
	if (done > 0 && done < 1) {
		dp_buf_printf(b, ", ");
		put_duration(b, elapsed * (1 - done) / done);
		dp_buf_printf(b, " left");
	}
}

static size_t terminal_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

void cli_progress_update(void *ctx, const dp_work *w)
{
	cli_progress *p = ctx;
	dp_buf line = { 0 };
	double now = dp_monotonic();

	if (!p || now < p->next_draw)
		return;
	p->next_draw = now + p->period;
	compose(p, w, now - p->start, &line);
	const char *text = dp_buf_cstr(&line);
	if (text && !line.failed) {
		size_t n = line.len, width = terminal_width() - 1; /* the last column would wrap */
		if (n > width)
			n = width;
		/* Over the previous line: what it had beyond this one is blanked. */
		fprintf(stderr, "\r%.*s%*s", (int)n, text, p->shown > n ? (int)(p->shown - n) : 0, "");
		if (p->shown > n)
			fprintf(stderr, "\r%.*s", (int)n, text);
		p->shown = n;
	}
	dp_buf_free(&line);
}

void cli_progress_interrupt(void)
{
	if (active && active->shown) {
		fprintf(stderr, "\r%*s\r", (int)active->shown, "");
		active->shown = 0;
	}
}

void cli_progress_end(cli_progress *p)
{
	if (!p)
		return;
	cli_progress_interrupt();
	if (active == p)
		active = NULL;
	free(p);
}
