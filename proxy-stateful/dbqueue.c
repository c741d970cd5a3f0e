/*
 * dbqueue.c - MariaDB persistence for proxy-stateful (see dbqueue.h).  The only
 * module that talks to libmariadb; its errors become errno here with
 * one log line of context.
 */
#include "dbqueue.h"

#include <errno.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "dbqueue"
#include "buf.h"
#include "ev.h"
#include "list.h"
#include "log.h"

#define DBQUEUE_ERR_LOG_NS (5ull * 1000000000ull)
#define DBQUEUE_BATCH_MAX 2000
/* Failed runs of sequence numbers remembered for late waiters. */
#define DBQUEUE_FAIL_RUNS 16

struct change_node {
	struct le le;
	uint64_t seq;
	struct location_change ch;
	char *sql; /* a statement of dbqueue_exec(), or NULL: ch */
	size_t sql_len;
};

struct waiter {
	struct le le;
	uint64_t seq;
	struct ev *ev;
	dbqueue_done_h *h;
	void *arg;
	int err;
};

struct dbqueue {
	struct dbqueue_url url;
	enum stateful_db_mode mode;
	uint32_t flush_ms;
	MYSQL *conn; /* the database thread's (the loaders' before it) */
	pthread_t th;
	bool started, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct list queue;   /* change_node, in seq order */
	struct list waiters; /* waiter */
	uint64_t seq;	     /* last queued */
	uint64_t last_err_log;
	bool down; /* the last commit failed */
	/*
	 * Changes are committed in seq order, a batch at a time, so what
	 * is done is 1..done_upto, in runs that were committed or failed
	 * (write-through drops a failed batch).  A waiter may come after
	 * its batch (dbqueue_change() and dbqueue_wait() are two calls, and any
	 * worker's wait starts a flush): it is answered from these.
	 */
	uint64_t done_upto;
	struct {
		uint64_t lo, hi;
	} fail[DBQUEUE_FAIL_RUNS];
	unsigned fail_next;
	struct dbqueue_stats st;
};

static __thread uint64_t tl_seq;

int dbqueue_url_decode(struct dbqueue_url *u, const char *url)
{
	const char *p, *at, *slash, *colon;
	struct dbqueue_url r;

	memset(&r, 0, sizeof(r));
	r.port = 3306;
	if (strncmp(url, "mysql://", 8))
		return EINVAL;
	p = url + 8;
	at = strchr(p, '@');
	slash = strchr(p, '/');
	if (!at || !slash || at > slash)
		return EINVAL;
	colon = memchr(p, ':', (size_t)(at - p));
	if (colon) {
		if ((size_t)(colon - p) >= sizeof(r.user) ||
		    (size_t)(at - colon - 1) >= sizeof(r.pw))
			return EINVAL;
		memcpy(r.user, p, (size_t)(colon - p));
		memcpy(r.pw, colon + 1, (size_t)(at - colon - 1));
	} else {
		if ((size_t)(at - p) >= sizeof(r.user))
			return EINVAL;
		memcpy(r.user, p, (size_t)(at - p));
	}
	p = at + 1;
	colon = memchr(p, ':', (size_t)(slash - p));
	if (colon) {
		char *end;
		unsigned long port = strtoul(colon + 1, &end, 10);

		if (end != slash || !port || port > 65535)
			return EINVAL;
		r.port = (unsigned)port;
	} else {
		colon = slash;
	}
	if (colon == p || (size_t)(colon - p) >= sizeof(r.host) || !slash[1] ||
	    strlen(slash + 1) >= sizeof(r.name))
		return EINVAL;
	memcpy(r.host, p, (size_t)(colon - p));
	memcpy(r.name, slash + 1, strlen(slash + 1));
	if (!r.user[0])
		return EINVAL;
	*u = r;
	return 0;
}

/* Opens the connection if there is none; logs a failure when log. */
static int connect_db(struct dbqueue *db, bool log)
{
	unsigned timeout = 3;

	if (db->conn)
		return 0;
	db->conn = mysql_init(NULL);
	if (!db->conn)
		return ENOMEM;
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	if (!mysql_real_connect(db->conn, db->url.host, db->url.user,
				db->url.pw[0] ? db->url.pw : NULL,
				db->url.name, db->url.port, NULL, 0)) {
		if (log)
			log_err("connect %s@%s:%u/%s: %s", db->url.user,
				db->url.host, db->url.port, db->url.name,
				mysql_error(db->conn));
		mysql_close(db->conn);
		db->conn = NULL;
		return ECONNREFUSED;
	}
	return 0;
}

static int query(struct dbqueue *db, const char *q, size_t len, bool log)
{
	if (mysql_real_query(db->conn, q, len)) {
		if (log)
			log_err("%.60s...: %s", q, mysql_error(db->conn));
		/* A broken connection is reopened next time. */
		mysql_close(db->conn);
		db->conn = NULL;
		return EIO;
	}
	return 0;
}

int dbqueue_open(struct dbqueue **dbp, const char *url,
		 enum stateful_db_mode mode, uint32_t flush_ms)
{
	struct dbqueue *db = calloc(1, sizeof(*db));
	int err;

	if (!db)
		return ENOMEM;
	if (dbqueue_url_decode(&db->url, url)) {
		log_err("bad database URL "
			"(mysql://user[:pw]@host[:port]/name)");
		free(db);
		return EINVAL;
	}
	db->mode = mode;
	db->flush_ms = flush_ms ? flush_ms : 1000;
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	list_init(&db->queue);
	list_init(&db->waiters);
	err = connect_db(db, true);
	if (err) {
		dbqueue_close(db);
		return err;
	}
	*dbp = db;
	return 0;
}

int dbqueue_load_users(struct dbqueue *db, struct userdb *users)
{
	static const char q[] = "SELECT username, domain, ha1, ha1b, "
				"auth_required FROM subscriber";
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t n = 0;
	int err;

	err = connect_db(db, true);
	if (!err)
		err = query(db, q, sizeof(q) - 1, true);
	if (err)
		return err;
	res = mysql_store_result(db->conn);
	if (!res) {
		log_err("subscriber: %s", mysql_error(db->conn));
		return EIO;
	}
	while ((row = mysql_fetch_row(res))) {
		struct pl u, d, h1, h2;

		pl_set_str(&u, row[0]);
		pl_set_str(&d, row[1]);
		pl_set_str(&h1, row[2]);
		pl_set_str(&h2, row[3]);
		err = userdb_add(users, &u, &d, &h1, &h2,
				 row[4] && row[4][0] != '0');
		if (err) {
			log_err("subscriber %s@%s: %s", row[0] ? row[0] : "",
				row[1] ? row[1] : "",
				err == EINVAL ? "bad HA1" : strerror(err));
			break;
		}
		n++;
	}
	mysql_free_result(res);
	if (!err)
		log_info("%zu users from the database", n);
	return err;
}

int dbqueue_load_bindings(struct dbqueue *db, struct location *loc,
			  uint64_t now)
{
	char q[200];
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t n = 0;
	int err, len;

	len = snprintf(q, sizeof(q),
		       "SELECT aor, contact, expires, q, call_id, cseq, "
		       "transport FROM location WHERE expires > %llu",
		       (unsigned long long)now);
	err = connect_db(db, true);
	if (!err)
		err = query(db, q, (size_t)len, true);
	if (err)
		return err;
	res = mysql_store_result(db->conn);
	if (!res) {
		log_err("location: %s", mysql_error(db->conn));
		return EIO;
	}
	while ((row = mysql_fetch_row(res))) {
		struct location_contact c;
		struct pl aor, v;
		uint64_t e;
		uint32_t x;

		memset(&c, 0, sizeof(c));
		pl_set_str(&aor, row[0]);
		if (pl_strcpy(&(struct pl){row[1], strlen(row[1])}, c.uri,
			      sizeof(c.uri)) ||
		    pl_strcpy(&(struct pl){row[4], strlen(row[4])}, c.call_id,
			      sizeof(c.call_id)))
			continue;
		pl_set_str(&v, row[2]);
		if (pl_u64(&v, &e))
			continue;
		c.expires = e;
		pl_set_str(&v, row[3]);
		if (!pl_u32(&v, &x))
			c.q = (uint16_t)x;
		pl_set_str(&v, row[5]);
		if (!pl_u32(&v, &x))
			c.cseq = x;
		pl_set_str(&v, row[6]);
		if (!pl_u32(&v, &x))
			c.tp = (enum sip_transport)x;
		if (!location_load(loc, &aor, &c))
			n++;
	}
	mysql_free_result(res);
	log_info("%zu bindings from the database", n);
	return 0;
}

static void node_free(struct change_node *n)
{
	free(n->sql);
	free(n);
}

static void enqueue(struct dbqueue *db, struct change_node *n)
{
	pthread_mutex_lock(&db->mu);
	n->seq = ++db->seq;
	tl_seq = n->seq;
	list_append(&db->queue, &n->le, n);
	db->st.queued++;
	if (db->mode == STATEFUL_DB_WRITE_THROUGH && db->queue.count == 1)
		pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
}

void dbqueue_change(const struct location_change *ch, void *arg)
{
	struct dbqueue *db = arg;
	struct change_node *n = calloc(1, sizeof(*n));

	if (!n) {
		log_err("out of memory: a binding change is not persisted");
		return;
	}
	n->ch = *ch;
	enqueue(db, n);
}

int dbqueue_exec(struct dbqueue *db, const char *sql, size_t len)
{
	struct change_node *n = calloc(1, sizeof(*n));

	if (!n)
		return ENOMEM;
	n->sql = malloc(len);
	if (!n->sql) {
		free(n);
		return ENOMEM;
	}
	memcpy(n->sql, sql, len);
	n->sql_len = len;
	enqueue(db, n);
	return 0;
}

int dbqueue_select(struct dbqueue *db, const char *sql, dbqueue_row_h *h,
		   void *arg)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int err;

	err = connect_db(db, true);
	if (!err)
		err = query(db, sql, strlen(sql), true);
	if (err)
		return err;
	res = mysql_store_result(db->conn);
	if (!res) {
		log_err("%.60s: %s", sql, mysql_error(db->conn));
		return EIO;
	}
	while ((row = mysql_fetch_row(res)))
		h(row, mysql_num_fields(res), arg);
	mysql_free_result(res);
	return 0;
}

uint64_t dbqueue_thread_seq(void)
{
	return tl_seq;
}

static void waiter_run(void *arg)
{
	struct waiter *w = arg;

	w->h(w->err, w->arg);
	free(w);
}

int dbqueue_wait(struct dbqueue *db, uint64_t seq, struct ev *ev,
		 dbqueue_done_h *h, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return ENOMEM;
	w->seq = seq;
	w->ev = ev;
	w->h = h;
	w->arg = arg;
	pthread_mutex_lock(&db->mu);
	list_append(&db->waiters, &w->le, w);
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
	return 0;
}

static int esc(struct dbqueue *db, struct buf *b, const char *s)
{
	size_t l = strlen(s);
	int err = buf_reserve(b, 2 * l + 3);

	if (err)
		return err;
	b->data[b->len++] = '\'';
	b->len += mysql_real_escape_string(db->conn, b->data + b->len, s,
					   (unsigned long)l);
	b->data[b->len++] = '\'';
	return 0;
}

/* One transaction for the whole batch (the group commit). */
static int commit_batch(struct dbqueue *db, struct list *batch, bool log)
{
	struct buf b;
	struct le *le;
	int err;

	/* While the database is down this runs for every batch: one log
	 * line per DBQUEUE_ERR_LOG_NS (log), not one per REGISTER. */
	err = connect_db(db, log);
	if (err)
		return EIO;
	buf_init(&b, 64u << 20);
	err = query(db, "START TRANSACTION", 17, log);
	le = batch->head;
	while (!err && le) {
		struct change_node *n = le->data;

		buf_reset(&b);
		if (n->sql) {
			err = buf_append(&b, n->sql, n->sql_len);
			le = le->next;
		} else if (n->ch.removed) {
			err = buf_append_str(&b, "DELETE FROM location WHERE "
						 "aor=");
			if (!err)
				err = esc(db, &b, n->ch.aor);
			if (!err)
				err = buf_append_str(&b, " AND contact=");
			if (!err)
				err = esc(db, &b, n->ch.c.uri);
			le = le->next;
		} else {
			/* Consecutive upserts go in one statement. */
			err = buf_append_str(&b, "REPLACE INTO location "
						 "VALUES ");
			while (!err && le &&
			       !((struct change_node *)le->data)->ch.removed &&
			       !((struct change_node *)le->data)->sql) {
				struct change_node *m = le->data;

				if (m != n)
					err = buf_append(&b, ",", 1);
				if (!err)
					err = buf_append(&b, "(", 1);
				if (!err)
					err = esc(db, &b, m->ch.aor);
				if (!err)
					err = buf_append(&b, ",", 1);
				if (!err)
					err = esc(db, &b, m->ch.c.uri);
				if (!err)
					err = buf_printf(
						&b, ",%llu,%u,",
						(unsigned long long)
							m->ch.c.expires,
						(unsigned)m->ch.c.q);
				if (!err)
					err = esc(db, &b, m->ch.c.call_id);
				if (!err)
					err = buf_printf(&b, ",%u,%u)",
							 m->ch.c.cseq,
							 (unsigned)m->ch.c.tp);
				le = le->next;
			}
		}
		if (!err)
			err = query(db, b.data, b.len, log);
	}
	if (!err)
		err = query(db, "COMMIT", 6, log);
	buf_free(&b);
	if (err && db->conn)
		query(db, "ROLLBACK", 8, false);
	return err ? EIO : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note_failed(struct dbqueue *db, uint64_t lo, uint64_t hi)
{
	unsigned last =
		(db->fail_next + DBQUEUE_FAIL_RUNS - 1) % DBQUEUE_FAIL_RUNS;

	if (db->fail[last].hi && db->fail[last].hi + 1 == lo) {
		db->fail[last].hi = hi;
		return;
	}
	db->fail[db->fail_next].lo = lo;
	db->fail[db->fail_next].hi = hi;
	db->fail_next = (db->fail_next + 1) % DBQUEUE_FAIL_RUNS;
}

static bool seq_failed(const struct dbqueue *db, uint64_t seq)
{
	unsigned i;

	for (i = 0; i < DBQUEUE_FAIL_RUNS; i++)
		if (db->fail[i].hi && db->fail[i].lo <= seq &&
		    seq <= db->fail[i].hi)
			return true;
	return false;
}

/* Answers every waiter whose changes are done. */
static void answer_waiters(struct dbqueue *db)
{
	struct le *le, *next;

	for (le = db->waiters.head; le; le = next) {
		struct waiter *w = le->data;

		next = le->next;
		if (w->seq > db->done_upto)
			continue;
		list_unlink(le);
		w->err = seq_failed(db, w->seq) ? EIO : 0;
		if (ev_call(w->ev, waiter_run, w))
			free(w);
	}
}

/* Takes the queue, commits it, answers the waiters it covers. */
static void flush_once(struct dbqueue *db)
{
	struct list batch = LIST_INIT;
	struct le *le;
	uint64_t lo, upto, now;
	bool log;
	int err;

	while (db->queue.head && batch.count < DBQUEUE_BATCH_MAX) {
		le = db->queue.head;
		list_unlink(le);
		list_append(&batch, le, le->data);
	}
	if (!batch.count) {
		answer_waiters(db);
		return;
	}
	lo = ((struct change_node *)batch.head->data)->seq;
	upto = ((struct change_node *)batch.tail->data)->seq;
	now = mono_ns();
	log = now - db->last_err_log >= DBQUEUE_ERR_LOG_NS;
	pthread_mutex_unlock(&db->mu);
	err = commit_batch(db, &batch, log);
	pthread_mutex_lock(&db->mu);
	if (err) {
		db->st.failures++;
		if (log)
			db->last_err_log = now;
		db->down = true;
	} else {
		if (db->down)
			log_info("database back: %zu changes committed",
				 batch.count);
		db->down = false;
		db->st.commits++;
		db->st.rows += batch.count;
	}
	if (err && db->mode == STATEFUL_DB_WRITE_BACK) {
		/* Kept, in order, ahead of what came since: retried. */
		while ((le = batch.tail)) {
			list_unlink(le);
			list_prepend(&db->queue, le, le->data);
		}
		return;
	}
	while ((le = batch.head)) {
		list_unlink(le);
		node_free(le->data);
	}
	if (err)
		note_failed(db, lo, upto);
	db->done_upto = upto;
	answer_waiters(db);
}

static void *db_main(void *arg)
{
	struct dbqueue *db = arg;

	pthread_mutex_lock(&db->mu);
	while (!db->stop) {
		if (db->mode == STATEFUL_DB_WRITE_THROUGH) {
			while (!db->stop && !db->queue.head &&
			       !db->waiters.head)
				pthread_cond_wait(&db->cv, &db->mu);
		} else {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += db->flush_ms / 1000;
			ts.tv_nsec += (long)(db->flush_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&db->cv, &db->mu, &ts);
		}
		if (db->stop)
			break;
		flush_once(db);
		if (db->mode == STATEFUL_DB_WRITE_THROUGH && !db->queue.head &&
		    db->waiters.head) {
			/* Waiters of a failed batch's successors: wait for
			 * the next change rather than spin. */
			pthread_mutex_unlock(&db->mu);
			pthread_mutex_lock(&db->mu);
		}
	}
	/* A clean stop loses nothing: flush what is left (bounded). */
	for (int i = 0; i < 100 && db->queue.head; i++)
		flush_once(db);
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

int dbqueue_start(struct dbqueue *db)
{
	int err = pthread_create(&db->th, NULL, db_main, db);

	if (err)
		return err;
	pthread_setname_np(db->th, "db");
	db->started = true;
	return 0;
}

void dbqueue_stats(struct dbqueue *db, struct dbqueue_stats *st)
{
	pthread_mutex_lock(&db->mu);
	*st = db->st;
	st->queued = db->queue.count;
	pthread_mutex_unlock(&db->mu);
}

void dbqueue_close(struct dbqueue *db)
{
	struct le *le;

	if (!db)
		return;
	if (db->started) {
		pthread_mutex_lock(&db->mu);
		db->stop = true;
		pthread_cond_signal(&db->cv);
		pthread_mutex_unlock(&db->mu);
		pthread_join(db->th, NULL);
	}
	if (db->queue.count)
		log_err("%zu binding changes not persisted", db->queue.count);
	while ((le = db->queue.head)) {
		list_unlink(le);
		node_free(le->data);
	}
	while ((le = db->waiters.head)) {
		list_unlink(le);
		free(le->data);
	}
	if (db->conn)
		mysql_close(db->conn);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	free(db);
}
