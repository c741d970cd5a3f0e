/*
 * log.h - one line per event on stderr:
 *   <ISO-8601 UTC with ms> <E|W|I|D> <module>: <function>: <text>
 *
 * Define LOG_MODULE before including this header to name the module.
 * Per-message logs are debug only; measurements never go to the log.
 */
#ifndef SIPSTONE_LOG_H
#define SIPSTONE_LOG_H

#include <stdarg.h>

#ifndef LOG_MODULE
#define LOG_MODULE "sipstone"
#endif

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Messages above this level are not written (default: info). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "err", "warn", "info", "debug".  Returns 0 or EINVAL. */
int log_level_decode(const char *s, enum log_level *level);

/* Writes one line atomically (one write(2)); thread-safe. */
void log_msg(enum log_level level, const char *module, const char *func,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, LOG_MODULE, __func__, __VA_ARGS__)
#define log_warn(...) \
	log_msg(LOG_LEVEL_WARN, LOG_MODULE, __func__, __VA_ARGS__)
#define log_info(...) \
	log_msg(LOG_LEVEL_INFO, LOG_MODULE, __func__, __VA_ARGS__)
/* The level test comes first so that arguments are not evaluated. */
#define log_debug(...)                                                 \
	do {                                                           \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                \
			log_msg(LOG_LEVEL_DEBUG, LOG_MODULE, __func__, \
				__VA_ARGS__);                          \
	} while (0)

#endif
