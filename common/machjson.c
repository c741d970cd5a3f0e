#include "machjson.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int machjson_boot_id(char *id, size_t idsz)
{
	char buf[MACHJSON_ID_MAX + 8];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	size_t len;

	if (!f)
		return errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return EBADMSG;
	}
	fclose(f);
	len = strcspn(buf, "\n");
	if (!len || len >= idsz || len >= MACHJSON_ID_MAX)
		return EBADMSG;
	memcpy(id, buf, len);
	id[len] = '\0';
	return 0;
}

json_t *machjson_read(void)
{
	struct procstat_machine m;
	char id[MACHJSON_ID_MAX];

	if (procstat_machine_read(&m) || machjson_boot_id(id, sizeof(id)))
		return NULL;
	return json_pack(
		"{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id", id, "ncpu",
		(json_int_t)m.ncpu, "user_us", (json_int_t)m.user_us,
		"nice_us", (json_int_t)m.nice_us, "system_us",
		(json_int_t)m.system_us, "idle_us", (json_int_t)m.idle_us,
		"iowait_us", (json_int_t)m.iowait_us, "irq_us",
		(json_int_t)m.irq_us, "softirq_us", (json_int_t)m.softirq_us,
		"steal_us", (json_int_t)m.steal_us);
}

/* o's counter key into *v: 0 or EBADMSG. */
static int counter(json_t *o, const char *key, uint64_t *v)
{
	json_t *n = json_object_get(o, key);

	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return EBADMSG;
	*v = (uint64_t)json_integer_value(n);
	return 0;
}

int machjson_parse(json_t *o, struct procstat_machine *m, char *id,
		   size_t idsz)
{
	struct procstat_machine r = {0};
	const char *s = json_string_value(json_object_get(o, "id"));
	uint64_t ncpu = 0;
	int err;

	if (!s || !*s || strlen(s) >= idsz || strlen(s) >= MACHJSON_ID_MAX)
		return EBADMSG;
	err = counter(o, "ncpu", &ncpu);
	if (!err)
		err = counter(o, "user_us", &r.user_us);
	if (!err)
		err = counter(o, "nice_us", &r.nice_us);
	if (!err)
		err = counter(o, "system_us", &r.system_us);
	if (!err)
		err = counter(o, "idle_us", &r.idle_us);
	if (!err)
		err = counter(o, "iowait_us", &r.iowait_us);
	if (!err)
		err = counter(o, "irq_us", &r.irq_us);
	if (!err)
		err = counter(o, "softirq_us", &r.softirq_us);
	if (!err)
		err = counter(o, "steal_us", &r.steal_us);
	if (err)
		return err;
	r.ncpu = (unsigned)ncpu;
	*m = r;
	snprintf(id, idsz, "%s", s);
	return 0;
}
