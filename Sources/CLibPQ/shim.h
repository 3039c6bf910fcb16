#include <libpq-fe.h>
// Server notices ("drop cascades to …") are not errors; without a processor libpq prints them
// on stderr, which would interleave with portableq's own output.
static void portableq_pq_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void portableq_pq_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, portableq_pq_ignore_notice, 0);
}
