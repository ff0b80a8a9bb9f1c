/*
 * value.c - numbers of the query layer (dp_qv): integers are kept exact
 * from the index to the output, and every comparison is a total order.
 */
#include <math.h>

#include "query/rows.h"

dp_qv dp_qv_int(int64_t i)
{
	return (dp_qv){ .type = QV_NUM, .integer = true, .i = i, .num = (double)i };
}

dp_qv dp_qv_real(double d)
{
	return (dp_qv){ .type = QV_NUM, .num = d };
}

dp_qv dp_qv_number(const dp_field *f)
{
	switch (f->type) {
	case DP_F_INT: return dp_qv_int(f->i);
	case DP_F_REAL: return dp_qv_real(f->d); /* a real, or an integer past INT64_MAX */
	default: return (dp_qv){ .type = QV_NULL };
	}
}

/* i against d (not NaN), exactly: a double converted to int64 or the
 * other way round would round one of them. */
static int cmp_int_real(int64_t i, double d)
{
	if (d >= 9223372036854775808.0) /* 2^63: past every int64 */
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	double t = trunc(d); /* |t| <= 2^63 and integral: exact as an int64 */
	int64_t ti = (int64_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	double frac = d - t; /* exact */
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int dp_qv_cmp_num(const dp_qv *a, const dp_qv *b)
{
	bool an = dp_qv_isnan(a), bn = dp_qv_isnan(b);
	if (an || bn)
		return an - bn;
	if (a->integer && b->integer)
		return (a->i > b->i) - (a->i < b->i);
	if (a->integer)
		return cmp_int_real(a->i, b->num);
	if (b->integer)
		return -cmp_int_real(b->i, a->num);
	return (a->num > b->num) - (a->num < b->num);
}
