/* Subcommands of the crossroads binary; each returns the exit status. */
#ifndef CR_CMD_H
#define CR_CMD_H

int	cr_cmd_serve(int argc, char **argv);
int	cr_cmd_log(int argc, char **argv);
int	cr_cmd_directory(int argc, char **argv);

#endif
