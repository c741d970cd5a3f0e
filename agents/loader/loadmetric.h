/*
 * loadmetric.h - the RFC 6076 metrics of an interval's counters (SIP
 * end-to-end performance metrics: §4.1 RRD's companion IRA for
 * REGISTER, §4.6 SER, §4.7 SEER, §4.8 ISA, §4.9 SCR).  Pure functions.
 */
#ifndef LOADER_LOADMETRIC_H
#define LOADER_LOADMETRIC_H

#include "loadcount.h"

/* RFC 6076 IRA for REGISTER (ineffective attempts, %): failures over
 * completed attempts; 0 when none completed. */
double loadmetric_ira(const struct loadcount *c);

/*
 * RFC 6076 ratios (%) from the counters of an interval (RFC 6076
 * §4), -1 when their denominator is 0.  c->codes are the INVITEs'
 * finals.  SER, SEER over INVITEs with an outcome less those answered
 * 3xx; ISA over INVITEs with an outcome; SCR over the calls that
 * ended (successes + failures: all attempts once none is in flight).
 */
double loadmetric_ser(const struct loadcount *c);
double loadmetric_seer(const struct loadcount *c);
double loadmetric_isa(const struct loadcount *c);
double loadmetric_scr(const struct loadcount *c);

#endif
