/*
 * orchestrator: runs whole cluster experiments (docs/topology.md).
 *
 *   orchestrator validate FILE... [--hosts INVENTORY.json]
 *   orchestrator init --hosts HOST,HOST... [--name NAME] [--force]
 *   orchestrator report BUNDLE
 *   orchestrator compare BUNDLE... [--html FILE]
 *   orchestrator upload BUNDLE --url URL [--post] [--token-env VAR]
 *                       [--ca FILE] [--tries N]
 *   orchestrator run TOPOLOGY.json... --hosts INVENTORY.json [--accept-new]
 *                    [--keep-db] [--keep-remote] [--deploy-only] [--quiet]
 *                    [--results DIR] [--upload URL [--post] [--token-env VAR]
 *                    [--ca FILE] [--tries N]] [experiment overrides]
 *   orchestrator baseline TOPOLOGY.json... --hosts INVENTORY.json [as run]
 *   orchestrator cleanup --hosts INVENTORY.json [--dry-run] [TOPOLOGY...]
 *   orchestrator --version | --help
 *
 * An override may be a list (--users 100,10000 --transport udp,tcp): the
 * runs are every topology file with every combination, one after another,
 * then a comparison of their bundles.
 *
 * main() only dispatches: the commands live in commands.c and
 * runlist.c, which the test runner links.
 */
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "init.h"
#define LOG_MODULE "orchestrator"
#include "log.h"
#include "runlist.h"
#include "version.h"

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		commands_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? COMMANDS_BAD_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version"))
		return version_print(stdout, "orchestrator") ? 1 : 0;
	if (!strcmp(argv[1], "validate"))
		return commands_validate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return commands_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare"))
		return commands_compare(argc - 1, argv + 1);
	if (!strcmp(argv[1], "upload"))
		return commands_upload(argc - 1, argv + 1);
	if (!strcmp(argv[1], "init"))
		return init_command(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "baseline"))
		return runlist_command(argc - 1, argv + 1,
				       !strcmp(argv[1], "baseline"));
	if (!strcmp(argv[1], "cleanup"))
		return cleanup_command(argc - 1, argv + 1);
	fprintf(stderr, "orchestrator: unknown command \"%s\"\n", argv[1]);
	commands_usage(stderr);
	return COMMANDS_BAD_USAGE;
}
